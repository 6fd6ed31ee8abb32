package router_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/testenv"
	"tenantry/web/router"
	"tenantry/web/secure"
)

// While the control database cannot be reached the router keeps serving
// the hosts it knows from the tenants' own databases; a host it never saw
// answers 503 with Retry-After; when the control database is back it
// listens again and serves new hosts.
func TestRouterServesCachedHostsWhileControlDatabaseIsDown(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	// Provisioned before the router listens, so no late notification
	// drops it from the cache.
	provision(t, c, "forum", "known-forum.localhost", "en")
	cfg, err := pgxpool.ParseConfig(c.URL)
	require.NoError(t, err)
	proxy := testenv.NewProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	u, _ := url.Parse(c.URL)
	u.Host = proxy.Addr
	db, err := pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(db.Close)
	r := router.New(activities.New(db, c.Catalog, c.Cipher), router.Config{FlushEvery: time.Hour})
	require.NoError(t, r.Start(ctx))
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(func() { srv.Close(); r.Close() })

	known := &testenv.Browser{T: t, Base: srv.URL, Host: "known-forum.localhost"}
	known.MustSee("/", "General")

	proxy.Cut()
	for range 20 { // across the listener noticing the cut and retrying
		known.MustSee("/", "General")
		time.Sleep(50 * time.Millisecond)
	}
	provision(t, c, "forum", "new-forum.localhost", "en")
	fresh := &testenv.Browser{T: t, Base: srv.URL, Host: "new-forum.localhost"}
	a := fresh.Get("/")
	require.Equal(t, http.StatusServiceUnavailable, a.Status)
	require.NotEmpty(t, a.Header.Get("Retry-After"))

	proxy.Restore()
	eventually(t, 10*time.Second, "the new host is served", func() bool { return fresh.Get("/").Status == http.StatusOK })
	known.MustSee("/", "General")
}

// Tenant pages carry the security headers, and their forms are refused
// when sent from another site.
func TestTenantPagesHeadersAndCrossOriginForms(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, base := startRouter(t, c)
	provision(t, c, "forum", "guarded-forum.localhost", "en")
	b := &testenv.Browser{T: t, Base: base, Host: "guarded-forum.localhost"}
	a := b.Get("/login")
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, secure.Policy, a.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", a.Header.Get("X-Content-Type-Options"))
	require.NotEmpty(t, a.Header.Get("Referrer-Policy"))
	require.NotContains(t, a.Body, "style=")

	form := url.Values{"email": {"admin@guarded-forum.localhost"}, "password": {adminPassword}}
	evil := &testenv.Browser{T: t, Base: base, Host: "guarded-forum.localhost", Header: http.Header{"Sec-Fetch-Site": {"cross-site"}}}
	require.Equal(t, http.StatusForbidden, evil.Post("/login", form).Status)
	require.Empty(t, evil.Session, "no session from a cross-site form")
	other := &testenv.Browser{T: t, Base: base, Host: "guarded-forum.localhost", Header: http.Header{"Origin": {"http://evil.example"}}}
	require.Equal(t, http.StatusForbidden, other.Post("/login", form).Status)
	require.Equal(t, http.StatusSeeOther, b.Post("/login", form).Status, "the site's own form still works")
}
