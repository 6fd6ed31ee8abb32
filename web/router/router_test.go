package router_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
	"tenantry/web/router"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var ctx = context.Background()

const adminPassword = "correct horse battery"

var adminHash = sync.OnceValue(func() string { return secret.HashPassword(adminPassword) })

// startRouter runs a router of its own (its own LISTEN connection, cache
// and pools) on a test server.
func startRouter(t *testing.T, c *testenv.Control) (*router.Router, string) {
	t.Helper()
	r := router.New(c.Acts, router.Config{FlushEvery: time.Hour})
	require.NoError(t, r.Start(ctx))
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(func() { srv.Close(); r.Close() })
	return r, srv.URL
}

// provision makes a ready instance for a new account, directly through the
// activities; its database is dropped when the test ends.
func provision(t *testing.T, c *testenv.Control, service, host, language string, modules ...string) string {
	t.Helper()
	acc, user := uuid.NewString(), uuid.NewString()
	_, err := c.Acts.CreateAccount(ctx, activities.CreateAccountInput{AccountID: acc, UserID: user,
		Email: "owner-" + user[:8] + "@example.com", Name: "Owner", AccountName: "Acme", PasswordHash: adminHash()})
	require.NoError(t, err)
	id := uuid.NewString()
	t.Cleanup(func() { _ = c.Acts.DropDatabase(ctx, activities.InstanceRef{InstanceID: id}) })
	_, err = c.Acts.ProvisionNow(ctx, activities.ReserveInstanceInput{InstanceID: id, AccountID: acc, ActorID: user,
		Service: service, Modules: modules, Host: host},
		activities.Setup{AdminEmail: "admin@" + host, AdminName: "Site Admin", AdminPasswordHash: adminHash(), Language: language},
		time.Now())
	require.NoError(t, err)
	return id
}

// browser talks to a router as one end user of one host, keeping its
// session cookie and not following redirects.
type browser struct {
	t       *testing.T
	base    string
	host    string
	session string
}

type answer struct {
	status int
	body   string
	header http.Header
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (b *browser) do(method, path string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(b.t, err)
	req.Host = b.host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.session != "" {
		req.AddCookie(&http.Cookie{Name: "tenantry_session", Value: b.session})
	}
	resp, err := noRedirects.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == "tenantry_session" {
			b.session = ck.Value
		}
	}
	return answer{status: resp.StatusCode, body: string(raw), header: resp.Header}
}

func (b *browser) get(path string) answer { b.t.Helper(); return b.do("GET", path, nil) }

func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	return b.do("POST", path, form)
}

func (b *browser) mustSee(path string, want ...string) string {
	b.t.Helper()
	a := b.get(path)
	require.Equal(b.t, http.StatusOK, a.status, "GET %s%s: %s", b.host, path, a.body)
	for _, w := range want {
		require.Contains(b.t, a.body, w, "GET %s%s", b.host, path)
	}
	return a.body
}

// eventually polls cond every 5 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEachHostSeesOnlyItsOwnData(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	provision(t, c, "forum", "a-forum.localhost", "de", "search")
	provision(t, c, "forum", "b-forum.localhost", "en")
	provision(t, c, "store", "c-store.localhost", "en")

	a := &browser{t: t, base: base, host: "A-Forum.localhost:8000"}
	b := &browser{t: t, base: base, host: "b-forum.localhost"}
	a.mustSee("/", "Anmelden", "General", `href="/search"`) // German, search enabled
	body := b.mustSee("/", "Log in", "General")
	assert.NotContains(t, body, `href="/search"`)

	// An end user registers on A and starts a thread; B never sees it.
	r := a.post("/register", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}, "password": {"a long enough password"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	r = a.post("/b/general/threads", url.Values{"title": {"Alpha only"}, "body": {"hello from the alpha forum"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	thread := r.header.Get("Location")
	a.mustSee(thread, "hello from the alpha forum", "Eve")
	a.mustSee("/b/general", "Alpha only")
	assert.NotContains(t, b.mustSee("/b/general"), "Alpha only")
	assert.Equal(t, http.StatusNotFound, b.get(thread).status)

	// The session lives in A's database: B does not know it.
	b.session = a.session
	assert.Contains(t, b.mustSee("/"), "Log in")
	assert.Equal(t, http.StatusSeeOther, b.post("/b/general/threads", url.Values{"title": {"x"}, "body": {"y"}}).status)

	// The admin from the setup page logs in; a wrong password does not.
	admin := &browser{t: t, base: base, host: "a-forum.localhost"}
	assert.Equal(t, http.StatusUnauthorized, admin.post("/login", url.Values{"email": {"admin@a-forum.localhost"}, "password": {"wrong password"}}).status)
	require.Equal(t, http.StatusSeeOther, admin.post("/login", url.Values{"email": {"admin@a-forum.localhost"}, "password": {adminPassword}}).status)
	admin.mustSee("/", "Site Admin")

	// Search is on A only.
	a.mustSee("/search?q=alpha", "Alpha only")
	assert.Equal(t, http.StatusNotFound, b.get("/search?q=alpha").status)

	// The store: products, cart, order, in minor units.
	s := &browser{t: t, base: base, host: "c-store.localhost"}
	s.mustSee("/", "Welcome mug", "€12.00")
	assert.Equal(t, http.StatusSeeOther, s.post("/cart", url.Values{"sku": {"welcome-mug"}}).status, "anonymous goes to login")
	require.Equal(t, http.StatusSeeOther, s.post("/register", url.Values{"email": {"bob@example.com"}, "name": {"Bob"}, "password": {"a long enough password"}}).status)
	require.Equal(t, http.StatusSeeOther, s.post("/cart", url.Values{"sku": {"welcome-mug"}, "quantity": {"2"}}).status)
	assert.Equal(t, http.StatusNotFound, s.post("/cart", url.Values{"sku": {"no-such"}}).status)
	assert.Equal(t, http.StatusUnprocessableEntity, s.post("/cart", url.Values{"sku": {"welcome-mug"}, "quantity": {"0"}}).status)
	s.mustSee("/cart", "€24.00")
	require.Equal(t, http.StatusSeeOther, s.post("/checkout", nil).status)
	s.mustSee("/orders", "€24.00", "open")
	s.mustSee("/cart", "Your cart is empty.")
	assert.Equal(t, http.StatusUnprocessableEntity, s.post("/checkout", nil).status)

	// Bob of the store is nobody on the forum.
	bob := &browser{t: t, base: base, host: "b-forum.localhost"}
	assert.Equal(t, http.StatusUnauthorized, bob.post("/login", url.Values{"email": {"bob@example.com"}, "password": {"a long enough password"}}).status)
}

func TestChangesReachEveryRouter(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base1 := startRouter(t, c)
	_, base2 := startRouter(t, c)
	id := provision(t, c, "forum", "mods.localhost", "en")
	both := []*browser{{t: t, base: base1, host: "mods.localhost"}, {t: t, base: base2, host: "mods.localhost"}}
	status := func(path string) (codes [2]int) {
		for i, b := range both {
			codes[i] = b.get(path).status
		}
		return codes
	}
	require.Equal(t, [2]int{404, 404}, status("/search"), "search is not enabled")
	require.Equal(t, [2]int{200, 200}, status("/"))

	// Enabling a module shows it on both routers without a restart.
	require.NoError(t, c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: id, Modules: []string{"core", "search"}, At: time.Now()}))
	eventually(t, 2*time.Second, "search on both routers", func() bool { return status("/search") == [2]int{200, 200} })
	for _, b := range both {
		b.mustSee("/", `href="/search"`)
	}

	// Maintenance: 503 with Retry-After, then back.
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: true}))
	eventually(t, 2*time.Second, "maintenance on both routers", func() bool { return status("/") == [2]int{503, 503} })
	a := both[0].get("/")
	assert.Equal(t, "30", a.header.Get("Retry-After"))
	assert.Contains(t, a.body, "maintenance")
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: false}))
	eventually(t, 2*time.Second, "maintenance off on both routers", func() bool { return status("/") == [2]int{200, 200} })

	// Disabled within its grace: 410 saying so.
	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: id, At: time.Now(), DeleteAfter: time.Now().Add(time.Hour)}))
	eventually(t, 2*time.Second, "disabled on both routers", func() bool { return status("/") == [2]int{410, 410} })
	assert.Contains(t, both[1].get("/b/general").body, "disabled")
}

func TestUnknownAndNewHosts(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	b := &browser{t: t, base: base, host: "soon.localhost"}
	a := b.get("/")
	assert.Equal(t, http.StatusNotFound, a.status)
	assert.Contains(t, a.body, "No such site")
	for _, bad := range []string{"", "bad host", "localhost", "xn--.localhost"} {
		assert.Equal(t, http.StatusNotFound, (&browser{t: t, base: base, host: bad}).get("/").status, "host %q", bad)
	}

	// The host is cached as unknown; reserving it for a new instance
	// makes it "being set up" at once, not after the negative TTL.
	acc, user := uuid.NewString(), uuid.NewString()
	_, err := c.Acts.CreateAccount(ctx, activities.CreateAccountInput{AccountID: acc, UserID: user,
		Email: "o-" + user[:8] + "@example.com", Name: "Owner", AccountName: "Acme", PasswordHash: adminHash()})
	require.NoError(t, err)
	_, err = c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: acc,
		ActorID: user, Service: "forum", Host: "soon.localhost"})
	require.NoError(t, err)
	eventually(t, 2*time.Second, "the reserved host to answer 503", func() bool { return b.get("/").status == http.StatusServiceUnavailable })
	a = b.get("/")
	assert.Equal(t, "30", a.header.Get("Retry-After"))
	assert.Contains(t, a.body, "being set up")
}

func TestUsageIsMeteredOnce(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	r, base := startRouter(t, c)
	id := provision(t, c, "forum", "metered.localhost", "en", "search")
	other := provision(t, c, "forum", "quiet.localhost", "en")
	b := &browser{t: t, base: base, host: "metered.localhost"}
	for range 5 {
		b.mustSee("/")
	}
	b.mustSee("/search?q=x")
	b.mustSee("/search") // the empty form is not a search
	(&browser{t: t, base: base, host: "nobody.localhost"}).get("/")
	require.NoError(t, r.Flush(ctx))
	require.NoError(t, r.Flush(ctx))

	usage := func(instance string) map[string]int64 {
		rows, err := c.DB.Query(ctx, `SELECT metric, sum(count)::bigint FROM usage_counts WHERE instance_id = $1 GROUP BY metric`, instance)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var m string
			var n int64
			require.NoError(t, rows.Scan(&m, &n))
			out[m] = n
		}
		return out
	}
	assert.Equal(t, map[string]int64{"requests": 7, "feature.search": 1}, usage(id))
	assert.Empty(t, usage(other))
}
