// Command tenantry runs Tenantry: `tenantry dev` brings up the whole local
// stack; `tenantry worker` and `tenantry web` run one part each against
// servers named by the environment.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"tenantry/internal/secret"
	"tenantry/internal/stack"
)

const usage = `usage: tenantry <command>

  dev      run the whole local stack (PostgreSQL, Temporal dev server, worker, web)
  worker   run the Temporal worker      (DATABASE_URL, TEMPORAL_ADDRESS, TENANTRY_SECRET_KEY)
  web      run the web server and API   (same, plus TENANTRY_LISTEN)
  router   run the host router for tenant traffic (DATABASE_URL, TENANTRY_SECRET_KEY, TENANTRY_ROUTER_LISTEN)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	switch os.Args[1] {
	case "dev":
		err = runDev(ctx, log)
	case "worker":
		err = runPart(ctx, log, true, "")
	case "web":
		err = runPart(ctx, log, false, envOr("TENANTRY_LISTEN", "127.0.0.1:8080"))
	case "router":
		err = runRouter(ctx, log)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		os.Exit(1)
	}
}

// runPart runs the worker or the web server from environment settings.
func runPart(ctx context.Context, log *slog.Logger, worker bool, listen string) error {
	cfg, err := configFromEnv(log)
	if err != nil {
		return err
	}
	cfg.RunWorker, cfg.Listen = worker, listen
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Stop()
	if s.URL != "" {
		fmt.Println("web server on", s.URL)
	}
	<-ctx.Done()
	return nil
}

// runRouter runs only the host router; several may run at once.
func runRouter(ctx context.Context, log *slog.Logger) error {
	cfg, err := configFromEnv(log)
	if err != nil {
		return err
	}
	cfg.RouterListen = envOr("TENANTRY_ROUTER_LISTEN", defaultRouterListen)
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Println("host router on", s.RouterURL)
	<-ctx.Done()
	return nil
}

// defaultRouterListen serves tenant hosts such as acme-forum.localhost.
const defaultRouterListen = "127.0.0.1:8000"

func configFromEnv(log *slog.Logger) (stack.Config, error) {
	cfg := stack.Config{
		DatabaseURL:      os.Getenv("DATABASE_URL"),
		TenantServerURL:  os.Getenv("TENANT_SERVER_URL"),
		SecretKey:        os.Getenv(secret.KeyEnv),
		TemporalHostPort: envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		SecureCookies:    os.Getenv("TENANTRY_SECURE_COOKIES") != "",
		Log:              log,
	}
	if cfg.DatabaseURL == "" || cfg.SecretKey == "" {
		return cfg, fmt.Errorf("DATABASE_URL and %s must be set", secret.KeyEnv)
	}
	var err error
	if cfg.GracePeriod, err = envDuration("TENANTRY_GRACE_PERIOD"); err != nil {
		return cfg, err
	}
	if cfg.SetupTimeout, err = envDuration("TENANTRY_SETUP_TIMEOUT"); err != nil {
		return cfg, err
	}
	cfg.Operators = envList("TENANTRY_OPERATORS")
	cfg.BillingPeriod, err = envDuration("TENANTRY_BILLING_PERIOD")
	return cfg, err
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

func envDuration(key string) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}
