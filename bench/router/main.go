// Command router measures the host router beside its floor: requests per
// second to a forum board page (one indexed query on the tenant database)
// through the router (Host lookup, cache, tenant pool, metering) and
// through the very same page handler bound directly to a fixed pool of the
// same size, in the same run with the same loopback load generator. It
// also times how long a change to an instance takes to be honoured by two
// independent routers (each with its own LISTEN connection and cache).
//
// The last line is key=value pairs for tooling:
//
//	ratio=<router_rps/direct_rps> router_rps=… direct_rps=… invalidate_p99_ms=… cache_entry_bytes=… pool_bytes=… backend_kb=… tenant_db_kb=… n=…
//
// Last, it weighs what one tenant costs: a fresh router's heap per cached
// host and per open tenant pool, and PostgreSQL's private memory per
// connection, from serving -tenants forums once each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/activities"
	"tenantry/internal/benchenv"
	"tenantry/internal/benchstat"
	"tenantry/internal/controldb"
	"tenantry/internal/provisionfloor"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/web/router"
	"tenantry/web/tenant"
)

const (
	host = "bench-forum.localhost"
	page = "/b/general"
)

func main() {
	n := flag.Int("n", 50, "invalidation trials")
	conc := flag.Int("concurrency", 8, "concurrent client connections")
	round := flag.Duration("round", 700*time.Millisecond, "length of one load round")
	rounds := flag.Int("rounds", 9, "load rounds per path, alternating between the paths")
	flag.IntVar(&tenants, "tenants", 40, "tenants served once each by fresh routers, to weigh a cache entry and a tenant pool")
	flag.Parse()
	if err := run(*n, *conc, *rounds, *round); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conc, rounds int, round time.Duration) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	// No worker, no API, no Temporal: only the control database and the
	// activities.
	env, err := benchenv.Start(ctx, stack.Config{Log: log}, benchenv.Options{})
	if err != nil {
		return err
	}
	defer env.Stop()
	s := env.Stack
	id, err := provision(ctx, s.Acts)
	if err != nil {
		return err
	}
	defer func() { _ = s.Acts.DropDatabase(ctx, activities.InstanceRef{InstanceID: id}) }()

	cfg := router.Config{Log: log}
	r1, url1, err := serveRouter(ctx, s.Acts, cfg)
	if err != nil {
		return err
	}
	defer r1.Close()
	r2, url2, err := serveRouter(ctx, s.Acts, cfg)
	if err != nil {
		return err
	}
	defer r2.Close()
	direct, closeDirect, err := serveDirect(ctx, s.Acts, id)
	if err != nil {
		return err
	}
	defer closeDirect()

	// Warm both paths, then alternate short rounds so drift and the
	// machine's other load hit both alike; each path's figure is the
	// median of its rounds, so a burst of other work on the machine during
	// one round does not decide the result.
	paths := []*path{{name: "handler on a fixed pool:", base: direct}, {name: "through the router:", base: url1}}
	for _, p := range paths {
		p.client = newClient(conc)
		if _, err := load(p.client, p.base, conc, round/2); err != nil {
			return err
		}
	}
	for range rounds {
		for _, p := range paths {
			got, err := load(p.client, p.base, conc, round)
			if err != nil {
				return err
			}
			p.rps = append(p.rps, float64(got)/round.Seconds())
		}
	}
	fmt.Printf("GET %s%s, %d connections, %d alternating rounds of %s per path (median, min-max)\n", host, page, conc, rounds, round)
	for _, p := range paths {
		fmt.Printf("  %-28s %8.0f req/s  (%.0f-%.0f)\n", p.name, median(p.rps), slices.Min(p.rps), slices.Max(p.rps))
	}
	directRPS, routerRPS := median(paths[0].rps), median(paths[1].rps)

	lat, err := invalidations(ctx, s.Acts, id, n, []string{url1, url2})
	if err != nil {
		return err
	}
	fmt.Printf("change → both routers honour it (maintenance on/off, %d trials): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		n, ms(pct(lat, 50)), ms(pct(lat, 99)), ms(slices.Max(lat)))
	mem, err := weigh(ctx, env, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("ratio=%.3f router_rps=%.0f direct_rps=%.0f invalidate_p99_ms=%.1f cache_entry_bytes=%.0f pool_bytes=%.0f backend_kb=%.0f tenant_db_kb=%d n=%d\n",
		routerRPS/directRPS, routerRPS, directRPS, ms(pct(lat, 99)), mem.entry, mem.pool, mem.backend/1024, mem.database/1024, n)
	return nil
}

// tenants is how many tenants weigh serves.
var tenants int

// weights are what one tenant costs a router and the database server.
type weights struct {
	// entry is a router's heap per cached host, pool per open tenant pool
	// with its one connection (beyond the entry), backend the database
	// server's private memory per connection.
	entry, pool, backend float64
	// database is a freshly seeded forum's database size in bytes.
	database int64
}

// weigh provisions tenants forums and has two fresh routers serve each
// once: one keeps a single tenant pool open (so its heap grows by the cache
// entries), the other keeps every pool (entries and pools); PostgreSQL's
// backends are weighed by their private memory.
func weigh(ctx context.Context, env *benchenv.Env, cfg router.Config) (weights, error) {
	var w weights
	hosts := make([]string, tenants)
	var last string
	for i := range hosts {
		hosts[i] = fmt.Sprintf("weigh-%d.localhost", i)
		id, err := provisionHost(ctx, env.Stack.Acts, hosts[i])
		if err != nil {
			return w, err
		}
		last = id
	}
	a := env.Stack.Acts
	tc, _, err := controldb.TenantConfig(ctx, a.DB, a.Cipher, a.Catalog, last)
	if err != nil {
		return w, err
	}
	if err := a.DB.QueryRow(ctx, `SELECT pg_database_size($1)`, tc.Database).Scan(&w.database); err != nil {
		return w, err
	}
	serveAll := func(r *router.Router) error {
		h := r.Handler()
		for _, hst := range hosts {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = hst
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET / on %s: %d", hst, rec.Code)
			}
		}
		return nil
	}
	grow := func(poolCap int) (heap float64, backend float64, err error) {
		c := cfg
		c.MaxPools = poolCap
		r := router.New(env.Stack.Acts, c)
		if err := r.Start(ctx); err != nil {
			return 0, 0, err
		}
		defer r.Close()
		heap0 := heapBytes()
		var pg0 int64
		if env.Postgres != nil {
			pg0, _ = benchstat.ChildrenPrivateMemory(env.Postgres.PID())
		}
		if err := serveAll(r); err != nil {
			return 0, 0, err
		}
		heap = float64(heapBytes()-heap0) / float64(len(hosts))
		if env.Postgres != nil {
			pg1, _ := benchstat.ChildrenPrivateMemory(env.Postgres.PID())
			backend = float64(pg1-pg0) / float64(len(hosts))
		}
		runtime.KeepAlive(r)
		return heap, backend, nil
	}
	entries, _, err := grow(1)
	if err != nil {
		return w, err
	}
	both, backend, err := grow(len(hosts))
	if err != nil {
		return w, err
	}
	w.entry, w.pool, w.backend = entries, both-entries, backend
	fmt.Printf("%d tenants served once by a fresh router: %.0f B heap per cached host, %.0f B per open tenant pool (1 connection); PostgreSQL %.0f KB private memory per connection; a seeded forum's database %d KB\n",
		len(hosts), w.entry, w.pool, w.backend/1024, w.database/1024)
	return w, nil
}

func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// provision makes one ready forum with a few threads on its board.
func provision(ctx context.Context, a *activities.Activities) (string, error) {
	id, err := provisionHost(ctx, a, host)
	if err != nil {
		return "", err
	}
	cfg, _, err := controldb.TenantConfig(ctx, a.DB, a.Cipher, a.Catalog, id)
	if err != nil {
		return "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO threads (board_id, author_id, title)
		SELECT b.id, m.id, 'Thread ' || g FROM boards b, members m, generate_series(1, 20) g WHERE b.slug = 'general'`)
	return id, err
}

// provisionHost makes one ready forum at host, in an account of its own.
func provisionHost(ctx context.Context, a *activities.Activities, host string) (string, error) {
	acc, user, id := uuid.NewString(), uuid.NewString(), uuid.NewString()
	hash := secret.HashPassword("benchmark password")
	if _, err := a.CreateAccount(ctx, activities.CreateAccountInput{AccountID: acc, UserID: user,
		Email: "bench@" + host, Name: "Bench", AccountName: "Bench", PasswordHash: hash}); err != nil {
		return "", err
	}
	if _, err := provisionfloor.Provision(ctx, a, activities.ReserveInstanceInput{InstanceID: id, AccountID: acc, ActorID: user,
		Service: "forum", Host: host},
		activities.Setup{AdminEmail: "admin@bench.test", AdminName: "Admin", AdminPasswordHash: hash, Language: "en"}, time.Now()); err != nil {
		return "", err
	}
	return id, nil
}

func listen(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

func serveRouter(ctx context.Context, a *activities.Activities, cfg router.Config) (*router.Router, string, error) {
	r := router.New(a, cfg)
	if err := r.Start(ctx); err != nil {
		return nil, "", err
	}
	base, _, err := listen(r.Handler())
	return r, base, err
}

// serveDirect binds the forum's pages to one fixed pool of the router's
// default size: no host lookup, no cache, no metering.
func serveDirect(ctx context.Context, a *activities.Activities, id string) (string, func(), error) {
	connCfg, _, err := controldb.TenantConfig(ctx, a.DB, a.Cipher, a.Catalog, id)
	if err != nil {
		return "", nil, err
	}
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return "", nil, err
	}
	pc.ConnConfig, pc.MaxConns = connCfg, 4
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return "", nil, err
	}
	t := &tenant.Tenant{InstanceID: id, Service: "forum", Version: "1.0.0", Schema: 1, Host: host, Modules: []string{"core"}, Lang: "en", DB: pool}
	base, stop, err := listen(router.Direct("forum", t))
	if err != nil {
		pool.Close()
		return "", nil, err
	}
	return base, func() { stop(); pool.Close() }, nil
}

// load runs conc keep-alive clients against base for d and returns how
// many pages they got; any other answer is an error.
// path is one way to the page and its rounds' throughput.
type path struct {
	name   string
	base   string
	client *http.Client
	rps    []float64
}

// newClient keeps conc connections open across rounds.
func newClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}, Timeout: 10 * time.Second}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func load(client *http.Client, base string, conc int, d time.Duration) (int64, error) {
	var ok atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				status, err := get(client, base, page)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("GET %s: status %d", page, status)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load(), firstErr
}

func get(client *http.Client, base, path string) (int, error) {
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// invalidations flips the instance's maintenance flag n times and times,
// from just before the change is committed, until every router answers
// with the new status (each router polled every 0.5 ms on its own
// connection).
func invalidations(ctx context.Context, a *activities.Activities, id string, n int, routers []string) ([]time.Duration, error) {
	clients := make([]*http.Client, len(routers))
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	}
	var out []time.Duration
	on := false
	for range n {
		on = !on
		want := http.StatusOK
		if on {
			want = http.StatusServiceUnavailable
		}
		// Both routers have the current state cached.
		for i, base := range routers {
			if _, err := get(clients[i], base, page); err != nil {
				return nil, err
			}
		}
		t0 := time.Now()
		if err := a.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: on}); err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		errs := make([]error, len(routers))
		for i, base := range routers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := t0.Add(5 * time.Second)
				for {
					status, err := get(clients[i], base, page)
					if err != nil {
						errs[i] = err
						return
					}
					if status == want {
						return
					}
					if time.Now().After(deadline) {
						errs[i] = fmt.Errorf("router %d still answers %d after 5s", i, status)
						return
					}
					time.Sleep(500 * time.Microsecond)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

var pct, ms = benchstat.Pct, benchstat.Ms
