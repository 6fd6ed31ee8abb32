package router_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/controldb"
	"tenantry/internal/provisionfloor"
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
	_, err = provisionfloor.Provision(ctx, c.Acts, activities.ReserveInstanceInput{InstanceID: id, AccountID: acc, ActorID: user,
		Service: service, Modules: modules, Host: host},
		activities.Setup{AdminEmail: "admin@" + host, AdminName: "Site Admin", AdminPasswordHash: adminHash(), Language: language},
		time.Now())
	require.NoError(t, err)
	return id
}

// eventually polls cond every 5 ms until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, within, 5*time.Millisecond, what, cond)
}

func TestEachHostSeesOnlyItsOwnData(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	provision(t, c, "forum", "a-forum.localhost", "de", "search")
	provision(t, c, "forum", "b-forum.localhost", "en")
	provision(t, c, "store", "c-store.localhost", "en")

	a := &testenv.Browser{T: t, Base: base, Host: "A-Forum.localhost:8000"}
	b := &testenv.Browser{T: t, Base: base, Host: "b-forum.localhost"}
	a.MustSee("/", "Anmelden", "General", `href="/search"`) // German, search enabled
	body := b.MustSee("/", "Log in", "General")
	assert.NotContains(t, body, `href="/search"`)

	// An end user registers on A and starts a thread; B never sees it.
	r := a.Post("/register", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}, "password": {"a long enough password"}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	r = a.Post("/b/general/threads", url.Values{"title": {"Alpha only"}, "body": {"hello from the alpha forum"}})
	require.Equal(t, http.StatusSeeOther, r.Status, r.Body)
	thread := r.Header.Get("Location")
	a.MustSee(thread, "hello from the alpha forum", "Eve")
	a.MustSee("/b/general", "Alpha only")
	assert.NotContains(t, b.MustSee("/b/general"), "Alpha only")
	assert.Equal(t, http.StatusNotFound, b.Get(thread).Status)

	// The session lives in A's database: B does not know it.
	b.Session = a.Session
	assert.Contains(t, b.MustSee("/"), "Log in")
	assert.Equal(t, http.StatusSeeOther, b.Post("/b/general/threads", url.Values{"title": {"x"}, "body": {"y"}}).Status)

	// The admin from the setup page logs in; a wrong password does not.
	admin := &testenv.Browser{T: t, Base: base, Host: "a-forum.localhost"}
	assert.Equal(t, http.StatusUnauthorized, admin.Post("/login", url.Values{"email": {"admin@a-forum.localhost"}, "password": {"wrong password"}}).Status)
	require.Equal(t, http.StatusSeeOther, admin.Post("/login", url.Values{"email": {"admin@a-forum.localhost"}, "password": {adminPassword}}).Status)
	admin.MustSee("/", "Site Admin")

	// Search is on A only.
	a.MustSee("/search?q=alpha", "Alpha only")
	assert.Equal(t, http.StatusNotFound, b.Get("/search?q=alpha").Status)

	// The store: products, cart, order, in minor units.
	s := &testenv.Browser{T: t, Base: base, Host: "c-store.localhost"}
	s.MustSee("/", "Welcome mug", "€12.00")
	assert.Equal(t, http.StatusSeeOther, s.Post("/cart", url.Values{"sku": {"welcome-mug"}}).Status, "anonymous goes to login")
	require.Equal(t, http.StatusSeeOther, s.Post("/register", url.Values{"email": {"bob@example.com"}, "name": {"Bob"}, "password": {"a long enough password"}}).Status)
	require.Equal(t, http.StatusSeeOther, s.Post("/cart", url.Values{"sku": {"welcome-mug"}, "quantity": {"2"}}).Status)
	assert.Equal(t, http.StatusNotFound, s.Post("/cart", url.Values{"sku": {"no-such"}}).Status)
	assert.Equal(t, http.StatusUnprocessableEntity, s.Post("/cart", url.Values{"sku": {"welcome-mug"}, "quantity": {"0"}}).Status)
	s.MustSee("/cart", "€24.00")
	require.Equal(t, http.StatusSeeOther, s.Post("/checkout", nil).Status)
	s.MustSee("/orders", "€24.00", "open")
	s.MustSee("/cart", "Your cart is empty.")
	assert.Equal(t, http.StatusUnprocessableEntity, s.Post("/checkout", nil).Status)

	// Bob of the store is nobody on the forum.
	bob := &testenv.Browser{T: t, Base: base, Host: "b-forum.localhost"}
	assert.Equal(t, http.StatusUnauthorized, bob.Post("/login", url.Values{"email": {"bob@example.com"}, "password": {"a long enough password"}}).Status)
}

func TestChangesReachEveryRouter(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base1 := startRouter(t, c)
	_, base2 := startRouter(t, c)
	id := provision(t, c, "forum", "mods.localhost", "en")
	both := []*testenv.Browser{{T: t, Base: base1, Host: "mods.localhost"}, {T: t, Base: base2, Host: "mods.localhost"}}
	status := func(path string) (codes [2]int) {
		for i, b := range both {
			codes[i] = b.Get(path).Status
		}
		return codes
	}
	require.Equal(t, [2]int{404, 404}, status("/search"), "search is not enabled")
	require.Equal(t, [2]int{200, 200}, status("/"))

	// Enabling a module shows it on both routers without a restart.
	require.NoError(t, c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: id, Modules: []string{"core", "search"}, At: time.Now()}))
	eventually(t, 2*time.Second, "search on both routers", func() bool { return status("/search") == [2]int{200, 200} })
	for _, b := range both {
		b.MustSee("/", `href="/search"`)
	}

	// Maintenance: 503 with Retry-After, then back.
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: true}))
	eventually(t, 2*time.Second, "maintenance on both routers", func() bool { return status("/") == [2]int{503, 503} })
	a := both[0].Get("/")
	assert.Equal(t, "30", a.Header.Get("Retry-After"))
	assert.Contains(t, a.Body, "maintenance")
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: false}))
	eventually(t, 2*time.Second, "maintenance off on both routers", func() bool { return status("/") == [2]int{200, 200} })

	// Disabled within its grace: 410 saying so.
	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: id, At: time.Now(), DeleteAfter: time.Now().Add(time.Hour)}))
	eventually(t, 2*time.Second, "disabled on both routers", func() bool { return status("/") == [2]int{410, 410} })
	assert.Contains(t, both[1].Get("/b/general").Body, "disabled")
}

func TestUnknownAndNewHosts(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	b := &testenv.Browser{T: t, Base: base, Host: "soon.localhost"}
	a := b.Get("/")
	assert.Equal(t, http.StatusNotFound, a.Status)
	assert.Contains(t, a.Body, "No such site")
	for _, bad := range []string{"", "bad host", "localhost", "xn--.localhost"} {
		assert.Equal(t, http.StatusNotFound, (&testenv.Browser{T: t, Base: base, Host: bad}).Get("/").Status, "host %q", bad)
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
	eventually(t, 2*time.Second, "the reserved host to answer 503", func() bool { return b.Get("/").Status == http.StatusServiceUnavailable })
	a = b.Get("/")
	assert.Equal(t, "30", a.Header.Get("Retry-After"))
	assert.Contains(t, a.Body, "being set up")
}

func TestUsageIsMeteredOnce(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	r, base := startRouter(t, c)
	id := provision(t, c, "forum", "metered.localhost", "en", "search")
	other := provision(t, c, "forum", "quiet.localhost", "en")
	b := &testenv.Browser{T: t, Base: base, Host: "metered.localhost"}
	for range 5 {
		b.MustSee("/")
	}
	b.MustSee("/search?q=x")
	b.MustSee("/search") // the empty form is not a search
	(&testenv.Browser{T: t, Base: base, Host: "nobody.localhost"}).Get("/")
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

// upgrade moves an instance to version 1.1.0 (schema 2) the way a rollout
// will: migrate, swap the version, tell the routers.
func upgrade(t *testing.T, c *testenv.Control, id string) {
	t.Helper()
	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: id, Version: "1.1.0"}))
	_, err := c.DB.Exec(ctx, `WITH u AS (UPDATE instances SET version = '1.1.0' WHERE id = $1 RETURNING id)
		SELECT pg_notify('instance_changed', id::text) FROM u`, id)
	require.NoError(t, err)
}

var postID = regexp.MustCompile(`id="post-(\d+)"`)

func TestModulesThatNeedSchemaTwo(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	forumID := provision(t, c, "forum", "files.localhost", "en", "attachments")
	storeID := provision(t, c, "store", "shop.localhost", "en", "reviews", "coupons", "inventory")
	eve := &testenv.Browser{T: t, Base: base, Host: "files.localhost"}
	require.Equal(t, http.StatusSeeOther, eve.Post("/register", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}, "password": {"a long enough password"}}).Status)
	thread := eve.Post("/b/general/threads", url.Values{"title": {"Files"}, "body": {"see attached"}}).Header.Get("Location")
	post := postID.FindStringSubmatch(eve.MustSee(thread))[1]
	bob := &testenv.Browser{T: t, Base: base, Host: "shop.localhost"}
	require.Equal(t, http.StatusSeeOther, bob.Post("/register", url.Values{"email": {"bob@example.com"}, "name": {"Bob"}, "password": {"a long enough password"}}).Status)

	// Enabled, but version 1.0.0 has no tables for them: not offered.
	assert.Equal(t, http.StatusNotFound, eve.Post("/posts/"+post+"/attachments", url.Values{"file_name": {"a.txt"}, "byte_size": {"12"}}).Status)
	assert.NotContains(t, eve.MustSee(thread), `name="file_name"`)
	assert.Equal(t, http.StatusNotFound, bob.Post("/p/welcome-mug/reviews", url.Values{"stars": {"5"}}).Status)
	assert.NotContains(t, bob.MustSee("/cart"), `name="coupon"`)

	upgrade(t, c, forumID)
	upgrade(t, c, storeID)
	eventually(t, 2*time.Second, "attachments offered", func() bool { return strings.Contains(eve.MustSee(thread), `name="file_name"`) })

	// Attachments: metadata on one's own post, within limits.
	assert.Equal(t, http.StatusUnprocessableEntity, eve.Post("/posts/"+post+"/attachments", url.Values{"file_name": {"../x"}, "byte_size": {"1"}}).Status)
	assert.Equal(t, http.StatusUnprocessableEntity, eve.Post("/posts/"+post+"/attachments", url.Values{"file_name": {"big.iso"}, "byte_size": {"999999999"}}).Status)
	require.Equal(t, http.StatusSeeOther, eve.Post("/posts/"+post+"/attachments", url.Values{"file_name": {"a.txt"}, "byte_size": {"12"}}).Status)
	eve.MustSee(thread, "a.txt (12 B)")
	mallory := &testenv.Browser{T: t, Base: base, Host: "files.localhost"}
	require.Equal(t, http.StatusSeeOther, mallory.Post("/register", url.Values{"email": {"mal@example.com"}, "name": {"Mal"}, "password": {"a long enough password"}}).Status)
	assert.Equal(t, http.StatusForbidden, mallory.Post("/posts/"+post+"/attachments", url.Values{"file_name": {"b.txt"}, "byte_size": {"1"}}).Status)

	// Store: reviews, a coupon made by the admin, stock taken by orders.
	require.Equal(t, http.StatusSeeOther, bob.Post("/p/welcome-mug/reviews", url.Values{"stars": {"5"}, "body": {"lovely mug"}}).Status)
	bob.MustSee("/p/welcome-mug", "5/5 · Bob: lovely mug")
	assert.Equal(t, http.StatusForbidden, bob.Post("/coupons", url.Values{"code": {"HALF"}, "percent_off": {"50"}}).Status)
	admin := &testenv.Browser{T: t, Base: base, Host: "shop.localhost"}
	require.Equal(t, http.StatusSeeOther, admin.Post("/login", url.Values{"email": {"admin@shop.localhost"}, "password": {adminPassword}}).Status)
	require.Equal(t, http.StatusSeeOther, admin.Post("/coupons", url.Values{"code": {"HALF"}, "percent_off": {"50"}, "uses": {"1"}}).Status)
	assert.Equal(t, http.StatusForbidden, bob.Post("/products", url.Values{"sku": {"tea"}, "title": {"Tea"}, "price": {"3.5"}}).Status)
	assert.Equal(t, http.StatusUnprocessableEntity, admin.Post("/products", url.Values{"sku": {"tea"}, "title": {"Tea"}, "price": {"3.555"}}).Status)
	require.Equal(t, http.StatusSeeOther, admin.Post("/products", url.Values{"sku": {"tea"}, "title": {"Tea"}, "price": {"3.5"}, "stock": {"2"}}).Status)
	assert.Equal(t, http.StatusConflict, admin.Post("/products", url.Values{"sku": {"tea"}, "title": {"Tea"}, "price": {"3"}}).Status)
	bob.MustSee("/p/tea", "€3.50", "In stock: 2")
	cfg, _, err := controldb.TenantConfig(ctx, c.Acts.DB, c.Acts.Cipher, c.Acts.Catalog, storeID)
	require.NoError(t, err)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE products SET stock = 3 WHERE sku = 'welcome-mug'`)
	require.NoError(t, err)

	require.Equal(t, http.StatusSeeOther, bob.Post("/cart", url.Values{"sku": {"welcome-mug"}, "quantity": {"4"}}).Status)
	assert.Equal(t, http.StatusConflict, bob.Post("/checkout", url.Values{"coupon": {"HALF"}}).Status, "only 3 in stock")
	_, err = conn.Exec(ctx, `UPDATE cart_items SET quantity = 2`)
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, bob.Post("/checkout", url.Values{"coupon": {"HALF"}}).Status)
	bob.MustSee("/orders", "€12.00")
	bob.MustSee("/p/welcome-mug", "In stock: 1")
	require.Equal(t, http.StatusSeeOther, bob.Post("/cart", url.Values{"sku": {"welcome-mug"}}).Status)
	assert.Equal(t, http.StatusUnprocessableEntity, bob.Post("/checkout", url.Values{"coupon": {"HALF"}}).Status, "the coupon had one use")
}

func TestInternationalHosts(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	provision(t, c, "forum", "Bücher.localhost", "de")
	for _, h := range []string{"bücher.localhost:8000", "xn--bcher-kva.localhost", "XN--BCHER-KVA.localhost."} {
		(&testenv.Browser{T: t, Base: base, Host: h}).MustSee("/", "Foren")
	}
	assert.Equal(t, http.StatusNotFound, (&testenv.Browser{T: t, Base: base, Host: "bucher.localhost"}).Get("/").Status)
}

func TestListenerReconnectsAndForgetsWhatItMayHaveMissed(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	id := provision(t, c, "forum", "flaky.localhost", "en")
	b := &testenv.Browser{T: t, Base: base, Host: "flaky.localhost"}
	b.MustSee("/")

	// The LISTEN connection dies; a change made meanwhile is still honoured
	// (the router drops its cache when it reconnects), well before the TTL.
	_, err := c.DB.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, router.ListenerName)
	require.NoError(t, err)
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: true}))
	eventually(t, 5*time.Second, "maintenance after the reconnect", func() bool { return b.Get("/").Status == http.StatusServiceUnavailable })
	eventually(t, 5*time.Second, "a new LISTEN connection", func() bool {
		var n int
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
			router.ListenerName).Scan(&n))
		return n == 1
	})
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: false}))
	eventually(t, 2*time.Second, "maintenance off", func() bool { return b.Get("/").Status == http.StatusOK })
}

func TestTenantPoolsAreCapped(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	r := router.New(c.Acts, router.Config{FlushEvery: time.Hour, PoolConns: 2})
	require.NoError(t, r.Start(ctx))
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(func() { srv.Close(); r.Close() })
	id := provision(t, c, "forum", "busy.localhost", "en")
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				(&testenv.Browser{T: t, Base: srv.URL, Host: "busy.localhost"}).Get("/b/general")
			}
		}()
	}
	wg.Wait()
	cfg, _, err := controldb.TenantConfig(ctx, c.Acts.DB, c.Acts.Cipher, c.Acts.Catalog, id)
	require.NoError(t, err)
	var n int
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2`,
		cfg.Database, cfg.User).Scan(&n))
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, 2)
}
