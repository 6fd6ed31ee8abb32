package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"tenantry/internal/config"
	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startStack boots the real thing: the Temporal dev server from
// temporal-dev/, a control database on the real PostgreSQL, the real worker
// and the web server on a free loopback port.
func startStack(t *testing.T, grace time.Duration) *stack.Stack {
	s, _ := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: grace}})
	return s
}

// startStackWith is startStack with more settings (a host router, ...); it
// returns the config it used, secret key included, so other processes can
// join the same stack.
func startStackWith(t *testing.T, cfg stack.Config) (*stack.Stack, stack.Config) {
	t.Helper()
	return startStackOn(t, devServer(t), cfg)
}

// startStackOn boots the stack on the Temporal server at hostPort.
func startStackOn(t *testing.T, hostPort string, cfg stack.Config) (*stack.Stack, stack.Config) {
	t.Helper()
	control := testenv.NewControl(t)
	cfg.DatabaseURL, cfg.TenantServerURL, cfg.SecretKey = control.URL, testenv.ServerURL(t), secret.NewKey()
	cfg.Temporal.HostPort, cfg.Listen, cfg.RunWorker, cfg.AdminListen = hostPort, "127.0.0.1:0", true, "127.0.0.1:0"
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := stack.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, cfg
}

// devServer starts the Temporal dev server from temporal-dev/ for one test.
func devServer(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	tmp, err := devstack.StartTemporal(context.Background(), devstack.TemporalOptions{ModuleDir: devstack.ModuleDirFrom(wd)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tmp.Stop)
	return tmp.HostPort
}

// clusterServer starts the Temporal server persisted in PostgreSQL (built
// from temporal-dev/) for one test, on the test binary's PostgreSQL with
// databases of its own, dropped at the end.
func clusterServer(t *testing.T) *devstack.Cluster {
	t.Helper()
	wd, _ := os.Getwd()
	dbName := func(url string) string { return url[strings.LastIndex(url, "/")+1:] }
	c, err := devstack.StartTemporalCluster(context.Background(), devstack.ClusterOptions{
		ModuleDir: devstack.ModuleDirFrom(wd), AdminURL: testenv.ServerURL(t),
		Database:           dbName(testenv.NewDatabase(t, "temporal_")),
		VisibilityDatabase: dbName(testenv.NewDatabase(t, "temporal_visibility_")),
		StateDir:           t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// api is a tiny JSON client for the tests.
type api struct {
	t     *testing.T
	base  string
	token string
}

// signedUp signs a user up (an account of their own) and returns an API
// client logged in as them; their password is "correct horse battery".
func signedUp(t *testing.T, s *stack.Stack, email, name, account string) *api {
	t.Helper()
	a := &api{t: t, base: s.URL + "/api"}
	a.must(http.StatusCreated, "POST", "/signup", map[string]string{
		"email": email, "name": name, "account_name": account, "password": "correct horse battery"}, nil)
	var login struct{ Token string }
	a.must(http.StatusOK, "POST", "/login", map[string]string{"email": email, "password": "correct horse battery"}, &login)
	a.token = login.Token
	return a
}

// do sends a request and decodes the JSON answer into out (when not nil),
// returning the status.
func (a *api) do(method, path string, body any, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// must sends a request that has to answer with want.
func (a *api) must(want int, method, path string, body any, out any) {
	a.t.Helper()
	var raw json.RawMessage
	got := a.do(method, path, body, &raw)
	if got != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatal(err)
		}
	}
}

// eventually polls cond every 50 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, 50*time.Millisecond, what, cond)
}
