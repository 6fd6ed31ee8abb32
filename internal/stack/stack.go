// Package stack wires Tenantry's parts together: control database, catalog,
// activities, Temporal client, worker and web server. The dev command, the
// end-to-end tests and the benchmarks all boot through it, so they run the
// same code as production.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/buildinfo"
	"tenantry/internal/catalog"
	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/health"
	"tenantry/internal/metrics"
	"tenantry/internal/platform"
	"tenantry/internal/secret"
	"tenantry/schemas"
	"tenantry/web"
	"tenantry/web/router"
	"tenantry/worker"
	"tenantry/workflows"
)

// Config is the settings (read from the environment by internal/config,
// or written by a test or benchmark) and what this process runs.
type Config struct {
	config.Config
	// RunWorker runs the Temporal worker. The web server runs when Listen
	// is set and the host router when RouterListen is set; a command clears
	// the ones it does not run.
	RunWorker bool
	// AdoptOrphans (the dev stack) makes this worker's build current in
	// place of a current build whose workers are gone, and moves the
	// running pinned workflows of such builds to it.
	AdoptOrphans bool
	Log          *slog.Logger
	// Services replaces the embedded catalog (schemas.Services()), for a
	// test that plays a release or runs a test-only service; nil keeps it.
	Services fs.FS
	// TenantServers are more database servers for tenants to register at
	// start, beside `local` (the dev stack's extra clusters, tests).
	TenantServers []TenantServer
}

// TenantServer is a database server named by the configuration.
type TenantServer struct {
	Name     string
	AdminURL string
}

// Stack is a running Tenantry.
type Stack struct {
	DB       *pgxpool.Pool
	Catalog  *catalog.Catalog
	Acts     *activities.Activities
	Temporal client.Client
	// URL is the web server's base URL when one runs.
	URL string
	// RouterURL is the host router's base URL when one runs.
	RouterURL string
	Router    *router.Router
	// AdminURL is the admin listener's base URL (/metrics, /healthz,
	// /readyz) when one runs.
	AdminURL string
	// Platform is the platform layer the web server runs on, when one runs.
	Platform *platform.Platform

	beats      heartbeats
	worker     *worker.Worker
	http       *http.Server
	routerHTTP *http.Server
	adminHTTP  *http.Server
	web        *web.Server
}

// Start migrates the control database, loads and syncs the catalog,
// registers the tenant database server, then starts the worker and the web
// server as configured.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.BuildID == "" {
		cfg.BuildID = buildinfo.ID("")
	}
	cipher, err := secret.NewCipher(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	services := cfg.Services
	if services == nil {
		services = schemas.Services()
	}
	cat, err := catalog.Load(services)
	if err != nil {
		return nil, err
	}
	db, err := controldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	s := &Stack{DB: db, Catalog: cat, Acts: activities.New(db, cat, cipher)}
	// Any number of processes may start at once on an empty control
	// database: they prepare it one after the other.
	if err := controldb.WithBootLock(ctx, db, func() error { return s.prepare(ctx, cfg) }); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.boot(ctx, cfg); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// prepare migrates the control database, syncs the catalog and the price
// schedule and registers the tenant database server; every step is
// idempotent, and Start runs it under the boot lock.
func (s *Stack) prepare(ctx context.Context, cfg Config) error {
	if err := controldb.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	if err := controldb.SyncCatalog(ctx, s.DB, s.Catalog); err != nil {
		return fmt.Errorf("sync catalog: %w", err)
	}
	// The schedule first: an edited base price is told apart from a
	// scheduled change by the schedule's rows.
	if err := controldb.SyncPriceSchedule(ctx, s.DB, s.Catalog); err != nil {
		return fmt.Errorf("sync price schedule: %w", err)
	}
	if err := controldb.ApplyCatalogPrices(ctx, s.DB, s.Catalog, time.Now()); err != nil {
		return fmt.Errorf("apply catalog prices: %w", err)
	}
	server := cfg.TenantServerURL
	if server == "" {
		server = cfg.DatabaseURL
	}
	for _, ts := range append([]TenantServer{{Name: "local", AdminURL: server}}, cfg.TenantServers...) {
		_, open, err := dbserver.Register(ctx, s.Acts.Servers, ts.Name, ts.AdminURL)
		if err != nil {
			return fmt.Errorf("register database server %s: %w", ts.Name, err)
		}
		if len(open) > 0 {
			cfg.Log.Warn("tenant roles can connect to databases of this server: as a superuser, REVOKE CONNECT, TEMPORARY ON DATABASE … FROM PUBLIC",
				"server", ts.Name, "databases", open)
		}
	}
	return nil
}

// boot starts what this process runs: the worker, the web server, the host
// router, and their heartbeats.
func (s *Stack) boot(ctx context.Context, cfg Config) (err error) {
	// A router-only process needs no Temporal.
	if cfg.RunWorker || cfg.Listen != "" {
		opts := cfg.Temporal
		opts.Logger = log.NewStructuredLogger(cfg.Log)
		if opts.MetricsHandler == nil {
			if opts.MetricsHandler, err = metrics.Temporal(); err != nil {
				return err
			}
		}
		c, err := client.Dial(opts)
		if err != nil {
			return fmt.Errorf("connect to Temporal at %s (namespace %s): %w", cfg.TemporalAddress(), cfg.Namespace(), err)
		}
		s.Temporal = c
	}
	if cfg.RunWorker {
		s.worker = worker.New(s.Temporal, s.Acts, cfg.BuildID, s.Catalog.Names())
		if err := s.worker.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		if err := s.activate(ctx, cfg); err != nil {
			return fmt.Errorf("worker deployment: %w", err)
		}
		if err := s.ensureBillingCycles(ctx, cfg); err != nil {
			return fmt.Errorf("billing cycles: %w", err)
		}
		if err := s.ensurePriceChanges(ctx); err != nil {
			return fmt.Errorf("price changes: %w", err)
		}
		if err := workflows.EnsureLogRetention(ctx, s.Temporal); err != nil {
			return fmt.Errorf("instance log retention schedule: %w", err)
		}
	}
	if cfg.Listen != "" {
		if err := s.serve(cfg); err != nil {
			return err
		}
	}
	if cfg.RouterListen != "" {
		if err := s.serveRouter(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.AdminListen != "" {
		if err := s.serveAdmin(cfg); err != nil {
			return err
		}
	}
	return s.startHeartbeats(ctx, cfg, s.parts(cfg))
}

// Checks are this process's dependencies, for /readyz: the control
// database, and Temporal when it uses it.
func (s *Stack) Checks() []health.Check {
	checks := []health.Check{{Name: apperr.Postgres, Probe: s.DB.Ping}}
	if s.Temporal != nil {
		checks = append(checks, health.Check{Name: apperr.Temporal, Probe: func(ctx context.Context) error {
			_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}})
	}
	return checks
}

// parts names what this process runs, for its heartbeats.
func (s *Stack) parts(cfg Config) []string {
	var kinds []string
	if cfg.Listen != "" {
		kinds = append(kinds, controldb.ProcessWeb)
	}
	if cfg.RunWorker {
		kinds = append(kinds, controldb.ProcessWorker)
	}
	if cfg.RouterListen != "" {
		kinds = append(kinds, controldb.ProcessRouter)
	}
	return kinds
}

// serveRouter starts the host router on its own listener.
func (s *Stack) serveRouter(ctx context.Context, cfg Config) error {
	l, err := net.Listen("tcp", cfg.RouterListen)
	if err != nil {
		return fmt.Errorf("host router: %w", err)
	}
	s.Router = router.New(s.Acts, router.Config{Log: cfg.Log})
	if err := s.Router.Start(ctx); err != nil {
		l.Close()
		return err
	}
	s.routerHTTP, s.RouterURL = serveOn(l, s.Router.Handler(), "host router", cfg.Log)
	return nil
}

// serveAdmin starts the operators' listener: /metrics, /healthz, /readyz.
func (s *Stack) serveAdmin(cfg Config) error {
	l, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("GET /healthz", health.Live())
	mux.Handle("GET /readyz", health.Ready(s.Checks()...))
	s.adminHTTP, s.AdminURL = serveOn(l, mux, "admin listener", cfg.Log)
	return nil
}

// serveOn serves h on l until the server is shut down; it returns the
// server and its base URL.
func serveOn(l net.Listener, h http.Handler, what string, log *slog.Logger) (*http.Server, string) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" stopped", "err", err)
		}
	}()
	return srv, "http://" + l.Addr().String()
}

func (s *Stack) serve(cfg Config) error {
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("web server: %w", err)
	}
	s.Platform = platform.New(&platform.Platform{DB: s.DB, Temporal: s.Temporal, Catalog: s.Catalog, Log: cfg.Log, Cipher: s.Acts.Cipher,
		GracePeriod: cfg.GracePeriod, SetupTimeout: cfg.SetupTimeout, TemporalUI: cfg.TemporalUI, Namespace: cfg.Namespace(),
		BillingPeriod: cfg.BillingPeriod, Fleet: s.Acts.Servers, MoveGrace: cfg.MoveGrace})
	s.web = &web.Server{Platform: s.Platform, SecureCookies: cfg.SecureCookies, Log: cfg.Log, Ready: health.Ready(s.Checks()...)}
	s.http, s.URL = serveOn(l, s.web.Handler(), "web server", cfg.Log)
	return nil
}

// Stop shuts down in reverse order: router, web, worker, Temporal client,
// pools.
func (s *Stack) Stop() {
	s.stopHeartbeats()
	if s.adminHTTP != nil {
		_ = s.adminHTTP.Close()
	}
	if s.routerHTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.routerHTTP.Shutdown(ctx)
		cancel()
	}
	if s.Router != nil {
		s.Router.Close()
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
		s.web.Close()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.Temporal != nil {
		s.Temporal.Close()
	}
	s.Acts.Servers.Close()
	s.DB.Close()
}
