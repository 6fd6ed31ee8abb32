// Package router is the host router: the load balancer of the founding
// notes. It resolves a request's Host to its service instance, keeps that
// lookup cached until PostgreSQL tells it the instance changed (LISTEN
// instance_changed, with a TTL backstop), hands the request to the
// service's pages with a pool on the instance's own database, and meters
// requests per instance into the control database.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"tenantry/activities"
	"tenantry/internal/controldb"
	"tenantry/internal/metrics"
	"tenantry/internal/validate"
	"tenantry/web/forum"
	"tenantry/web/secure"
	"tenantry/web/store"
	"tenantry/web/tenant"
)

// ListenerName is the application_name of every router's LISTEN
// connection, so operators can find them in pg_stat_activity.
const ListenerName = "tenantry-router-listen"

// Config tunes a router; zero values take the defaults.
type Config struct {
	// ID names this router process in usage records; default a new UUID.
	ID string
	// TTL bounds how long a lookup is trusted without a notification
	// (default 5m); NegativeTTL the same for unknown hosts (default 30s).
	TTL, NegativeTTL time.Duration
	// MaxPools bounds open tenant pools (default 200); PoolConns each
	// pool's connections (default 4); PoolIdle closes an unused pool
	// (default 5m).
	MaxPools  int
	PoolConns int32
	PoolIdle  time.Duration
	// FlushEvery is the usage flush window (default 5s).
	FlushEvery time.Duration
	// RetryAfter is what 503 answers ask clients to wait (default 30s).
	RetryAfter time.Duration
	Log        *slog.Logger
}

// Router serves tenant traffic.
type Router struct {
	cfg      Config
	control  *pgxpool.Pool
	acts     *activities.Activities
	cache    *cache
	loading  singleflight.Group
	pools    *pools
	meter    *meter
	requests *requestLog
	services map[string]http.Handler

	listening chan struct{} // closed once LISTEN is in place
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// New builds a router on the control database; acts decrypts tenant
// credentials. Start runs its listener and usage flushes.
func New(acts *activities.Activities, cfg Config) *Router {
	if cfg.ID == "" {
		cfg.ID = uuid.NewString()
	}
	cfg.TTL = orDefault(cfg.TTL, 5*time.Minute)
	cfg.NegativeTTL = orDefault(cfg.NegativeTTL, 30*time.Second)
	cfg.PoolIdle = orDefault(cfg.PoolIdle, 5*time.Minute)
	cfg.FlushEvery = orDefault(cfg.FlushEvery, 5*time.Second)
	cfg.RetryAfter = orDefault(cfg.RetryAfter, 30*time.Second)
	if cfg.MaxPools <= 0 {
		cfg.MaxPools = 200
	}
	if cfg.PoolConns <= 0 {
		cfg.PoolConns = 4
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Router{cfg: cfg, control: acts.DB, acts: acts, listening: make(chan struct{}),
		cache:    newCache(cfg.TTL, cfg.NegativeTTL, 10000),
		meter:    newMeter(acts.DB, cfg.ID, cfg.Log),
		requests: newRequestLog(acts.DB, cfg.ID, cfg.Log),
		services: map[string]http.Handler{},
	}
	for _, name := range []string{"forum", "store"} {
		r.services[name] = serviceHandler(name)
	}
	r.pools = newPools(r.openPool, cfg.MaxPools, cfg.PoolIdle)
	return r
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Start runs the LISTEN connection, the idle-pool sweeper and the usage
// flusher until Close. It returns once LISTEN is in place (or ctx ends),
// so no change made after Start returns can be missed.
func (r *Router) Start(ctx context.Context) error {
	run, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.done.Add(3)
	go func() { defer r.done.Done(); r.listen(run) }()
	go func() { defer r.done.Done(); r.flushEvery(run) }()
	go func() {
		defer r.done.Done()
		t := time.NewTicker(r.cfg.PoolIdle / 4)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.pools.sweep()
			case <-run.Done():
				return
			}
		}
	}()
	select {
	case <-r.listening:
		return nil
	case <-ctx.Done():
		r.Close()
		return ctx.Err()
	}
}

// Close stops listening, flushes usage one last time and closes every
// tenant pool.
func (r *Router) Close() {
	if r.stop != nil {
		r.stop()
		r.done.Wait()
	}
	r.pools.closeAll()
}

// Flush writes the usage counted and the request lines logged so far
// (tests and shutdown).
func (r *Router) Flush(ctx context.Context) error {
	return errors.Join(r.meter.flush(ctx), r.requests.flush(ctx))
}

// flushEvery flushes every FlushEvery until ctx ends, then once more.
func (r *Router) flushEvery(ctx context.Context) {
	t := time.NewTicker(r.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := r.Flush(ctx); err != nil {
				r.cfg.Log.Warn("usage or request log flush failed; it will be retried", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := r.Flush(fctx); err != nil {
				r.cfg.Log.Error("final usage or request log flush failed", "err", err)
			}
			cancel()
			return
		}
	}
}

// listen keeps one connection LISTENing on controldb.InstanceChanged,
// reconnecting with backoff. While it is away every lookup is read again
// (kept only to serve while the control database is down); after every
// (re)connect the whole cache is dropped, because notifications sent while
// it was away are lost.
func (r *Router) listen(ctx context.Context) {
	first := true
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.listenOnce(ctx, func() {
			r.cache.invalidateAll()
			r.pools.dropAll()
			if first {
				first = false
				close(r.listening)
			}
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		r.cfg.Log.Warn("router lost its LISTEN connection; reconnecting", "err", err)
		r.cache.expireAll()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (r *Router) listenOnce(ctx context.Context, onListening func()) error {
	cfg := r.control.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+controldb.InstanceChanged); err != nil {
		return err
	}
	onListening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		r.cache.invalidate(n.Payload)
		// Its database may have moved to another server.
		r.pools.drop(n.Payload)
	}
}

// lookup resolves a request host: from the cache, or from the control
// database (then cached, unknown hosts too).
func (r *Router) lookup(ctx context.Context, rawHost string) (*Instance, error) {
	key := hostKey(rawHost)
	e, ok, gen := r.cache.get(key)
	if ok {
		metrics.RouterCache.WithLabelValues("hit").Inc()
		return e.inst, nil
	}
	// One query per host however many requests missed at once (a request
	// after an invalidation never joins a load that started before it); it
	// is not cut short by the first caller going away.
	v, err, _ := r.loading.Do(strconv.FormatUint(gen, 10)+" "+key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		inst, err := r.load(lctx, key)
		if err == nil {
			r.cache.put(key, inst, gen)
		}
		return inst, err
	})
	if err != nil {
		// The control database is away: serve what was known.
		if old, ok := r.cache.stale(key); ok {
			metrics.RouterCache.WithLabelValues("stale").Inc()
			return old.inst, nil
		}
		return nil, err
	}
	metrics.RouterCache.WithLabelValues("miss").Inc()
	return v.(*Instance), nil
}

func (r *Router) load(ctx context.Context, key string) (*Instance, error) {
	host, err := validate.Host(key)
	if err != nil {
		return nil, nil // not a host anybody can register: unknown
	}
	var i Instance
	err = r.control.QueryRow(ctx, `
		SELECT id, service, version, modules, status, maintenance, host_registered_at IS NOT NULL, delete_after
		FROM instances WHERE host = $1 AND status IN ('provisioning', 'ready', 'disabled')`, host).
		Scan(&i.ID, &i.Service, &i.Version, &i.Modules, &i.Status, &i.Maintenance, &i.Routed, &i.DeleteAfter)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if svc, err := r.acts.Catalog.Service(i.Service); err == nil {
		if v, err := svc.Version(i.Version); err == nil {
			i.Schema = v.SchemaVersion
		}
	}
	return &i, nil
}

// openPool opens a pool on the instance's own database with its own
// decrypted credentials, capped at PoolConns, and reads its language.
func (r *Router) openPool(ctx context.Context, id string) (*pgxpool.Pool, string, error) {
	connCfg, _, err := controldb.TenantConfig(ctx, r.acts.DB, r.acts.Cipher, r.acts.Catalog, id)
	if err != nil {
		return nil, "", err
	}
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, "", err
	}
	cfg.ConnConfig = connCfg
	cfg.MaxConns = r.cfg.PoolConns
	cfg.MaxConnIdleTime = time.Minute
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, "", err
	}
	var lang string
	err = pool.QueryRow(ctx, `SELECT coalesce((SELECT value #>> '{}' FROM tenant_settings WHERE key = 'language'), 'en')`).Scan(&lang)
	if err != nil {
		pool.Close()
		return nil, "", fmt.Errorf("read tenant settings: %w", err)
	}
	return pool, lang, nil
}

// Handler is the router's gin server.
func (r *Router) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(gin.Recovery())
	e.NoRoute(r.route)
	// The tenant pages' forms are refused from other sites like the
	// console's (they relied on SameSite cookies alone before).
	deny := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_ = StatusPage(statusView{Title: "Refused", Text: "This form was sent from another site."}).Render(req.Context(), w)
	})
	return secure.Headers(secure.SameOrigin(e, deny))
}

// route answers one tenant request.
func (r *Router) route(c *gin.Context) {
	ctx := c.Request.Context()
	inst, err := r.lookup(ctx, c.Request.Host)
	if err != nil {
		r.cfg.Log.Error("host lookup failed", "err", err)
		r.status(c, http.StatusServiceUnavailable, statusView{Title: "Temporarily unavailable", Text: "Please try again in a moment.", Retry: true})
		return
	}
	if inst == nil {
		r.status(c, http.StatusNotFound, statusView{Title: "No such site", Text: "Nothing is served at " + hostKey(c.Request.Host) + "."})
		return
	}
	// Every answer for an instance goes into its own log (never the query
	// string, which may carry secrets).
	defer func(start time.Time) {
		r.requests.add(inst.ID, c.Request.Method, c.Request.URL.Path, c.Writer.Status(), start.UTC(), time.Since(start))
	}(time.Now())
	switch {
	case inst.Status == "disabled":
		v := statusView{Title: "This site has been disabled", Text: "Its owner disabled it."}
		if inst.DeleteAfter != nil {
			v.Text += " Its data is kept until " + inst.DeleteAfter.UTC().Format("2 January 2006 15:04 UTC") + "; the owner can enable it again until then."
		}
		r.status(c, http.StatusGone, v)
		return
	case inst.Status == "provisioning" || !inst.Routed:
		r.status(c, http.StatusServiceUnavailable, statusView{Title: "This site is being set up", Text: "It will be ready in a moment.", Retry: true})
		return
	case inst.Maintenance:
		r.status(c, http.StatusServiceUnavailable, statusView{Title: "Down for maintenance", Text: "This site is being upgraded and will be back shortly.", Retry: true})
		return
	}
	svc := r.services[inst.Service]
	if svc == nil {
		r.status(c, http.StatusNotFound, statusView{Title: "No such site", Text: "This service has no pages yet."})
		return
	}
	tp, err := r.pools.acquire(ctx, inst.ID)
	if err != nil {
		r.cfg.Log.Error("tenant pool", "instance", inst.ID, "err", err)
		r.status(c, http.StatusServiceUnavailable, statusView{Title: "Temporarily unavailable", Text: "Please try again in a moment.", Retry: true})
		return
	}
	defer r.pools.release(tp)
	r.meter.add(inst.ID, MetricRequests, 1)
	t := &tenant.Tenant{InstanceID: inst.ID, Service: inst.Service, Version: inst.Version, Schema: inst.Schema, Host: hostKey(c.Request.Host),
		Modules: inst.Modules, Lang: tp.lang, DB: tp.pool,
		Meter: func(metric string) { r.meter.add(inst.ID, metric, 1) }}
	svc.ServeHTTP(c.Writer, c.Request.WithContext(tenant.With(ctx, t)))
	metrics.RouterRequests.WithLabelValues(inst.ID, strconv.Itoa(c.Writer.Status())).Inc()
	for _, e := range c.Errors {
		r.cfg.Log.Error("tenant page", "instance", inst.ID, "path", c.Request.URL.Path, "err", e.Err)
	}
}

func (r *Router) status(c *gin.Context, code int, v statusView) {
	if v.Retry {
		c.Header("Retry-After", strconv.Itoa(int(r.cfg.RetryAfter.Seconds())))
	}
	c.Header("Cache-Control", "no-store")
	tenant.Render(c, code, StatusPage(v))
}

// Direct serves a service's pages for one fixed tenant with no host lookup
// (the benchmark's baseline).
func Direct(service string, t *tenant.Tenant) http.Handler {
	h := serviceHandler(service)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.ServeHTTP(w, req.WithContext(tenant.With(req.Context(), t)))
	})
}

// serviceHandler is a service's own pages, or nil for a service without.
func serviceHandler(name string) http.Handler {
	switch name {
	case "forum":
		return forum.Handler()
	case "store":
		return store.Handler()
	}
	return nil
}
