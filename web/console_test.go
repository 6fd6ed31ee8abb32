package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/platform"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
	"tenantry/web"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const password = "correct horse battery"

// site is a web server on a fresh control database (no Temporal: these
// tests stop at the checks before any workflow starts).
type site struct {
	t       *testing.T
	url     string
	control *testenv.Control
}

func newSite(t *testing.T) *site {
	t.Helper()
	c := testenv.NewControl(t)
	return &site{t: t, url: process(t, c), control: c}
}

// process starts one more web process on the control database; it returns
// its URL.
func process(t *testing.T, c *testenv.Control) string {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ws := &web.Server{Platform: platform.New(&platform.Platform{DB: c.DB, Catalog: c.Catalog, Log: log,
		Fleet: c.Acts.Servers, Cipher: c.Cipher}), Log: log}
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(func() { srv.Close(); ws.Close() })
	return srv.URL
}

// user adds an account with one user of the given role; it returns the
// user's email and the account's ID.
func (s *site) user(role string) (email, accountID string) {
	s.t.Helper()
	ctx := context.Background()
	accountID, email = uuid.NewString(), uuid.NewString()[:8]+"@example.test"
	if _, err := s.control.DB.Exec(ctx, `INSERT INTO accounts (id, name) VALUES ($1, 'Acme')`, accountID); err != nil {
		s.t.Fatal(err)
	}
	s.control.AddMember(s.t, accountID, email, secret.HashPassword(password), role)
	return email, accountID
}

// instance adds a ready forum of the account and returns its ID.
func (s *site) instance(accountID string) string {
	s.t.Helper()
	id := uuid.NewString()
	if _, err := s.control.DB.Exec(context.Background(), `INSERT INTO instances (id, account_id, service, version, modules, status, host)
		VALUES ($1, $2, 'forum', '1.0.0', '{core}', 'ready', $3)`, id, accountID, id[:8]+".localhost"); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// browser is a client that keeps cookies and does not follow redirects.
type browser struct {
	t      *testing.T
	site   *site
	client *http.Client
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, site: s, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request; form is posted when not nil. It returns the status,
// the Location header and the body.
func (b *browser) do(method, path string, form url.Values, header http.Header) (int, string, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.site.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(raw)
}

func (b *browser) login(email, pw string) (int, string) {
	status, _, body := b.do("POST", "/login", url.Values{"email": {email}, "password": {pw}}, nil)
	return status, body
}

func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.site.url)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "tenantry_session" {
			return c.Value
		}
	}
	return ""
}

func TestLoginStartsSessionAndLogoutEndsIt(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	b := s.browser()

	if status, _, _ := b.do("GET", "/dashboard", nil, nil); status != http.StatusSeeOther {
		t.Fatalf("anonymous dashboard: %d, want a redirect to the login page", status)
	}
	if status, body := b.login(email, "wrong password here"); status != http.StatusUnauthorized || !strings.Contains(body, "wrong email or password") {
		t.Fatalf("wrong password: %d", status)
	}
	if status, body := b.login("nobody@example.test", password); status != http.StatusUnauthorized || !strings.Contains(body, "wrong email or password") {
		t.Fatalf("unknown email: %d", status)
	}
	status, _, _ := b.do("POST", "/login", url.Values{"email": {strings.ToUpper(email)}, "password": {password}}, nil)
	if status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	first := b.sessionCookie()
	if first == "" {
		t.Fatal("no session cookie after login")
	}
	if status, _, body := b.do("GET", "/dashboard", nil, nil); status != http.StatusOK || !strings.Contains(body, email) {
		t.Fatalf("dashboard after login: %d", status)
	}
	// Logging in again renews the token: the old one is worth nothing.
	b.login(email, password)
	if b.sessionCookie() == first {
		t.Fatal("the session token was not renewed at login")
	}
	old := s.browser()
	u, _ := url.Parse(s.url)
	old.client.Jar.SetCookies(u, []*http.Cookie{{Name: "tenantry_session", Value: first}})
	if status, _, _ := old.do("GET", "/dashboard", nil, nil); status != http.StatusSeeOther {
		t.Fatalf("a replaced session token still works: %d", status)
	}

	current := b.sessionCookie()
	if status, loc, _ := b.do("POST", "/logout", url.Values{}, nil); status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: %d %s", status, loc)
	}
	replay := s.browser()
	replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: "tenantry_session", Value: current}})
	if status, _, _ := replay.do("GET", "/dashboard", nil, nil); status != http.StatusSeeOther {
		t.Fatalf("a logged-out session still works: %d", status)
	}
}

func TestSessionCookieIsHttpOnlyAndSameSite(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	req, _ := http.NewRequest("POST", s.url+"/login", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"tenantry_session=", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Fatalf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
}

func TestLoginIsRateLimitedPerAccountAndPerAddress(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	b := s.browser()
	for range 5 {
		if status, _ := b.login(email, "wrong password here"); status != http.StatusUnauthorized {
			t.Fatalf("failed login: %d", status)
		}
	}
	// Even the right password is refused now, with the generic message.
	status, body := b.login(email, password)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many failed logins") {
		t.Fatalf("login after 5 failures: %d", status)
	}
	// The JSON API shares the limit.
	req, _ := http.NewRequest("POST", s.url+"/api/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("API login after 5 failures: %d", resp.StatusCode)
	}
	// Per address: failures on many accounts from one address add up.
	other, _ := s.user("owner")
	for i := range 15 {
		if status, _ := b.login(uuid.NewString()+"@example.test", "wrong password here"); status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	if status, _ := b.login(other, password); status != http.StatusTooManyRequests {
		t.Fatalf("login from an address with 20 failures: %d", status)
	}
}

// The budget is shared by every web process: failures on one count on the
// other, and a burst of parallel guesses gets no more than the budget.
func TestLoginLimitIsSharedByWebProcesses(t *testing.T) {
	s := newSite(t)
	second := &site{t: t, url: process(t, s.control), control: s.control}
	email, _ := s.user("owner")
	login := func(on *site, pw string) int {
		status, _ := on.browser().login(email, pw)
		return status
	}
	for i := range 3 {
		if status := login([]*site{s, second}[i%2], "wrong password here"); status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, status)
		}
	}
	// A success is not a failure: it leaves the budget as it was.
	if status := login(second, password); status != http.StatusSeeOther {
		t.Fatalf("login with the right password: %d", status)
	}
	var wg sync.WaitGroup
	var unauthorized, refused atomic.Int32
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch login([]*site{s, second}[i%2], "wrong password here") {
			case http.StatusUnauthorized:
				unauthorized.Add(1)
			case http.StatusTooManyRequests:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	// Racing attempts may refuse each other, never admit more.
	if unauthorized.Load() > 2 || unauthorized.Load()+refused.Load() != 6 {
		t.Fatalf("6 parallel guesses with 2 left in the budget: %d checked, %d refused", unauthorized.Load(), refused.Load())
	}
	for range 2 - int(unauthorized.Load()) { // what the race left of the budget
		if status := login(s, "wrong password here"); status != http.StatusUnauthorized {
			t.Fatalf("a failure within the budget: %d", status)
		}
	}
	for _, on := range []*site{s, second} {
		if status := login(on, password); status != http.StatusTooManyRequests {
			t.Fatalf("login on either process after 5 failures: %d", status)
		}
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	s := newSite(t)
	email, accountID := s.user("owner")
	id := s.instance(accountID)
	b := s.browser()
	if status, _ := b.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://evil.example"}},
	} {
		for _, path := range []string{"/instances/" + id + "/disable", "/instances/" + id + "/modules", "/enable", "/logout", "/login"} {
			if status, _, _ := b.do("POST", path, url.Values{"modules": {"search"}}, h); status != http.StatusForbidden {
				t.Errorf("cross-origin POST %s with %v: %d, want 403", path, h, status)
			}
		}
	}
	// A cross-site GET (someone followed a link) is let through.
	if status, _, _ := b.do("GET", "/dashboard", nil, http.Header{"Sec-Fetch-Site": {"cross-site"}}); status != http.StatusOK {
		t.Fatalf("a cross-site GET (a link) is refused: %d", status)
	}
}

// Another account's instance is not found on every route, in the console
// and in the JSON API, for every kind of request.
func TestOtherAccountsInstanceIsNotFound(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	_, otherAccount := s.user("owner")
	theirs := s.instance(otherAccount)
	b := s.browser()
	if status, _ := b.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/instances/" + theirs},
		{"GET", "/instances/" + theirs + "/progress"},
		{"GET", "/instances/" + theirs + "/setup"},
		{"POST", "/instances/" + theirs + "/setup"},
		{"POST", "/instances/" + theirs + "/modules"},
		{"POST", "/instances/" + theirs + "/disable"},
		{"POST", "/instances/" + theirs + "/enable"},
		{"GET", "/instances/not-a-uuid"},
	} {
		var form url.Values
		if r.method == "POST" {
			form = url.Values{}
		}
		if status, _, body := b.do(r.method, r.path, form, nil); status != http.StatusNotFound || strings.Contains(body, ".localhost") {
			t.Errorf("console %s %s: %d, want 404 that reveals nothing", r.method, r.path, status)
		}
	}

	token := apiToken(t, s, email)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/instances/" + theirs, ""},
		{"POST", "/api/instances/" + theirs + "/setup", `{}`},
		{"PUT", "/api/instances/" + theirs + "/modules", `{"modules":[]}`},
		{"DELETE", "/api/instances/" + theirs, ""},
		{"POST", "/api/instances/" + theirs + "/enable", ""},
	} {
		req, _ := http.NewRequest(r.method, s.url+r.path, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("API %s %s: %d, want 404", r.method, r.path, resp.StatusCode)
		}
	}
	// Their instance is not on my dashboard either.
	if _, _, body := b.do("GET", "/dashboard", nil, nil); strings.Contains(body, theirs[:8]) {
		t.Fatal("another account's instance is on my dashboard")
	}
}

// Each role reaches what its permissions allow and gets 403 elsewhere, in
// the console and in the API.
func TestRolePermissions(t *testing.T) {
	s := newSite(t)
	type call struct {
		method, path string
		want         map[string]int // role → status
	}
	forbidden, ok := http.StatusForbidden, http.StatusOK
	for _, role := range []string{"member", "billing", "owner", "developer"} {
		email, accountID := s.user(role)
		id := s.instance(accountID)
		b := s.browser()
		if status, _ := b.login(email, password); status != http.StatusSeeOther {
			t.Fatalf("%s login: %d", role, status)
		}
		for _, c := range []call{
			{"GET", "/dashboard", map[string]int{"member": ok, "billing": ok, "owner": ok, "developer": ok}},
			{"GET", "/dev", map[string]int{"member": forbidden, "billing": forbidden, "owner": forbidden, "developer": ok}},
			{"GET", "/dev/catalog", map[string]int{"member": forbidden, "billing": forbidden, "owner": forbidden, "developer": ok}},
			{"GET", "/dev/problems", map[string]int{"member": forbidden, "billing": forbidden, "owner": forbidden}},
			{"GET", "/dev/instances/" + id, map[string]int{"member": forbidden, "billing": forbidden, "owner": forbidden}},
			{"GET", "/timeline", map[string]int{"member": ok, "billing": ok, "owner": ok}},
			{"GET", "/enable", map[string]int{"member": forbidden, "billing": forbidden, "owner": ok}},
			{"GET", "/team", map[string]int{"member": forbidden, "billing": forbidden, "owner": ok}},
			{"POST", "/team", map[string]int{"member": forbidden, "billing": forbidden, "owner": http.StatusUnprocessableEntity}},
			{"GET", "/broker", map[string]int{"member": forbidden, "billing": forbidden, "owner": ok}},
			{"POST", "/broker", map[string]int{"member": forbidden, "billing": forbidden, "owner": http.StatusUnprocessableEntity}},
			{"POST", "/instances/" + id + "/disable", map[string]int{"member": forbidden, "billing": forbidden}},
			{"POST", "/instances/" + id + "/modules", map[string]int{"member": forbidden, "billing": forbidden}},
			{"POST", "/instances/" + id + "/setup", map[string]int{"member": forbidden, "billing": forbidden}},
			{"POST", "/instances/" + id + "/enable", map[string]int{"member": forbidden, "billing": forbidden}},
		} {
			want, asked := c.want[role]
			if !asked {
				continue
			}
			var form url.Values
			if c.method == "POST" {
				form = url.Values{}
			}
			if status, _, _ := b.do(c.method, c.path, form, nil); status != want {
				t.Errorf("%s %s %s: %d, want %d", role, c.method, c.path, status, want)
			}
		}
		token := apiToken(t, s, email)
		for _, c := range []call{
			{"GET", "/api/instances", map[string]int{"member": ok, "billing": ok, "owner": ok}},
			{"POST", "/api/instances", map[string]int{"member": forbidden, "billing": forbidden, "owner": http.StatusUnprocessableEntity}},
			{"DELETE", "/api/instances/" + id, map[string]int{"member": forbidden, "billing": forbidden}},
			{"PUT", "/api/instances/" + id + "/modules", map[string]int{"member": forbidden, "billing": forbidden}},
		} {
			want, asked := c.want[role]
			if !asked {
				continue
			}
			req, _ := http.NewRequest(c.method, s.url+c.path, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s API %s %s: %d, want %d", role, c.method, c.path, resp.StatusCode, want)
			}
		}
	}
}

// An owner invites a member who can log in with the one-time password, gives
// roles within the account only, cannot remove the last owner, and every
// change is on the timeline, newest first.
func TestTeamInviteRolesAndTimeline(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	stranger, strangerAccount := s.user("owner")
	b := s.browser()
	b.login(email, password)

	status, _, body := b.do("POST", "/team", url.Values{"email": {"Bob@Example.test"}, "name": {"Bob"}, "role": {"member"}}, nil)
	if status != http.StatusCreated {
		t.Fatalf("invite: %d", status)
	}
	_, pw, found := strings.Cut(body, "(it is shown only now): ")
	if !found {
		t.Fatal("the invite did not show the one-time password")
	}
	pw = pw[:strings.IndexAny(pw, "<\n ")]
	if status, _, _ := b.do("POST", "/team", url.Values{"email": {"bob@example.test"}, "name": {"Bob"}, "role": {"member"}}, nil); status != http.StatusConflict {
		t.Fatalf("second invite of the same email: %d", status)
	}
	if status, _, _ := b.do("POST", "/team", url.Values{"email": {"eve@example.test"}, "name": {"Eve"}, "role": {"developer"}}, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("an owner granted the developer role: %d", status)
	}
	bob := s.browser()
	if status, _ := bob.login("bob@example.test", pw); status != http.StatusSeeOther {
		t.Fatalf("the invited member cannot log in: %d", status)
	}

	var bobID, myID, strangerID string
	ctx := context.Background()
	for _, q := range []struct {
		email string
		id    *string
	}{{"bob@example.test", &bobID}, {email, &myID}, {stranger, &strangerID}} {
		if err := s.control.DB.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, q.email).Scan(q.id); err != nil {
			t.Fatal(err)
		}
	}
	if status, _, _ := b.do("POST", "/team/"+bobID+"/role", url.Values{"role": {"billing"}}, nil); status != http.StatusSeeOther {
		t.Fatalf("give role: %d", status)
	}
	if status, _, _ := b.do("POST", "/team/"+strangerID+"/role", url.Values{"role": {"member"}}, nil); status != http.StatusNotFound {
		t.Fatalf("role of another account's user: %d, want 404", status)
	}
	var strangerRole string
	_ = s.control.DB.QueryRow(ctx, `SELECT role FROM grants WHERE account_id = $1`, strangerAccount).Scan(&strangerRole)
	if strangerRole != "owner" {
		t.Fatal("another account's user lost their role")
	}
	if status, _, _ := b.do("POST", "/team/"+myID+"/role", url.Values{"role": {"member"}}, nil); status != http.StatusConflict {
		t.Fatalf("the last owner demoted themselves: %d", status)
	}

	_, _, timeline := b.do("GET", "/timeline", nil, nil)
	changed, invited := strings.Index(timeline, "member.role_changed"), strings.Index(timeline, "member.invited")
	if changed < 0 || invited < 0 || changed > invited {
		t.Fatalf("timeline lacks the events or is not newest first")
	}
	if strings.Contains(timeline, pw) {
		t.Fatal("the one-time password is on the timeline")
	}
	sb := s.browser()
	sb.login(stranger, password)
	if _, _, theirs := sb.do("GET", "/timeline", nil, nil); strings.Contains(theirs, "member.invited") {
		t.Fatal("another account's timeline shows our events")
	}
}

func apiToken(t *testing.T, s *site, email string) string {
	t.Helper()
	resp, err := http.Post(s.url+"/api/login", "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	i := strings.Index(string(raw), `"token":"`)
	if resp.StatusCode != http.StatusOK || i < 0 {
		t.Fatalf("API login: %d %s", resp.StatusCode, raw)
	}
	rest := string(raw)[i+len(`"token":"`):]
	return rest[:strings.Index(rest, `"`)]
}

func TestChangePassword(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("member")
	b := s.browser()
	b.login(email, password)
	token := apiToken(t, s, email)
	change := func(current, next, repeat string) int {
		status, _, _ := b.do("POST", "/account/password", url.Values{"current": {current}, "new": {next}, "repeat": {repeat}}, nil)
		return status
	}
	if got := change("wrong password here", "a brand new passphrase", "a brand new passphrase"); got != http.StatusUnprocessableEntity {
		t.Fatalf("wrong current password: %d", got)
	}
	if got := change(password, "short", "short"); got != http.StatusUnprocessableEntity {
		t.Fatalf("short new password: %d", got)
	}
	if got := change(password, "a brand new passphrase", "a different passphrase"); got != http.StatusUnprocessableEntity {
		t.Fatalf("differing repeat: %d", got)
	}
	if got := change(password, "a brand new passphrase", "a brand new passphrase"); got != http.StatusSeeOther {
		t.Fatalf("change: %d", got)
	}
	if status, _, _ := b.do("GET", "/dashboard", nil, nil); status != http.StatusOK {
		t.Fatalf("the session ended with the change: %d", status)
	}
	if got := bearerStatus(t, s.url, "GET", "/api/instances", token); got != http.StatusUnauthorized {
		t.Fatalf("an API login token outlived the password change: %d", got)
	}
	if status, _ := s.browser().login(email, password); status != http.StatusUnauthorized {
		t.Fatalf("the old password still works: %d", status)
	}
	if status, _ := s.browser().login(email, "a brand new passphrase"); status != http.StatusSeeOther {
		t.Fatalf("the new password does not work: %d", status)
	}
}
