package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/health"
	"tenantry/internal/platform"
	"tenantry/internal/testenv"
	"tenantry/web"
)

// outageSite is a web process whose control database is reached through a
// proxy the test can cut.
func outageSite(t *testing.T) (*site, *testenv.Proxy) {
	t.Helper()
	c := testenv.NewControl(t)
	cfg, err := pgxpool.ParseConfig(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	u, _ := url.Parse(c.URL)
	u.Host = proxy.Addr
	db, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ws := &web.Server{Platform: platform.New(&platform.Platform{DB: db, Catalog: c.Catalog, Log: log}), Log: log,
		Ready: health.Ready(health.Check{Name: apperr.Postgres, Probe: db.Ping})}
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(func() { srv.Close(); ws.Close() })
	return &site{t: t, url: srv.URL, control: c}, proxy
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, u, contentType, body string, header http.Header) answer {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

// While PostgreSQL cannot be reached the API answers 503 JSON with
// Retry-After, the console a page saying so, /readyz names postgres and
// /healthz stays up; when it is back, the same process serves again.
func TestPostgresOutageAnswers503AndRecovers(t *testing.T) {
	s, proxy := outageSite(t)
	email, _ := s.user("owner")
	login := `{"email":"` + email + `","password":"` + password + `"}`
	if a := send(t, "POST", s.url+"/api/login", "application/json", login, nil); a.status != http.StatusOK {
		t.Fatalf("login before the outage: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", s.url+"/readyz", "", "", nil); a.status != http.StatusOK {
		t.Fatalf("readyz before the outage: %d %s", a.status, a.body)
	}

	proxy.Cut()
	a := send(t, "POST", s.url+"/api/login", "application/json", login, nil)
	var e struct{ Error string }
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || json.Unmarshal([]byte(a.body), &e) != nil || e.Error == "" {
		t.Fatalf("API during the outage: %d Retry-After=%q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	page := send(t, "POST", s.url+"/login", "application/x-www-form-urlencoded", url.Values{"email": {email}, "password": {password}}.Encode(), nil)
	if page.status != http.StatusServiceUnavailable || !strings.Contains(page.body, "briefly unavailable") || page.header.Get("Retry-After") == "" {
		t.Fatalf("console during the outage: %d %s", page.status, page.body)
	}
	ready := send(t, "GET", s.url+"/readyz", "", "", nil)
	var r health.Report
	if ready.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(ready.body), &r) != nil || len(r.Down) != 1 || r.Down[0] != apperr.Postgres {
		t.Fatalf("readyz during the outage: %d %s", ready.status, ready.body)
	}
	if a := send(t, "GET", s.url+"/healthz", "", "", nil); a.status != http.StatusOK {
		t.Fatalf("healthz during the outage: %d", a.status)
	}

	proxy.Restore()
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, "the API serves again", func() bool {
		return send(t, "POST", s.url+"/api/login", "application/json", login, nil).status == http.StatusOK
	})
	if a := send(t, "GET", s.url+"/readyz", "", "", nil); a.status != http.StatusOK {
		t.Fatalf("readyz after the outage: %d %s", a.status, a.body)
	}
}

// The API's cross-origin refusal is JSON like every other API error.
func TestAPICrossOriginRefusalIsJSON(t *testing.T) {
	s := newSite(t)
	a := send(t, "POST", s.url+"/api/login", "application/json", `{}`, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	var e struct{ Error string }
	if a.status != http.StatusForbidden || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") ||
		json.Unmarshal([]byte(a.body), &e) != nil || e.Error == "" {
		t.Fatalf("cross-origin API POST: %d %q %s", a.status, a.header.Get("Content-Type"), a.body)
	}
}
