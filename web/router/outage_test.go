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
