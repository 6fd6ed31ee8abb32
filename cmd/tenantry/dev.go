package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
)

// runDev starts PostgreSQL and the Temporal dev server as children (unless
// DATABASE_URL or TEMPORAL_ADDRESS point elsewhere), then the worker and web
// server in this process. Everything lives in .state/, so a second run
// resumes with every account, tenant database and running workflow.
func runDev(ctx context.Context, log *slog.Logger) error {
	state, err := filepath.Abs(envOr("TENANTRY_STATE_DIR", ".state"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	pgLog, err := os.OpenFile(filepath.Join(state, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer pgLog.Close()

	cfg := stack.Config{DatabaseURL: os.Getenv("DATABASE_URL"), Log: log,
		Listen: envOr("TENANTRY_LISTEN", "127.0.0.1:8080"), RunWorker: true,
		RouterListen: envOr("TENANTRY_ROUTER_LISTEN", defaultRouterListen)}
	if cfg.DatabaseURL == "" {
		fmt.Printf("Starting PostgreSQL (state in %s) ...\n", filepath.Join(state, "pgdata"))
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: state, Durable: true, Log: pgLog})
		if err != nil {
			return err
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.AdminURL
	}

	uiURL := ""
	cfg.TemporalHostPort = os.Getenv("TEMPORAL_ADDRESS")
	if cfg.TemporalHostPort == "" {
		fmt.Println("Starting the Temporal dev server (the first run builds the CLI: a few minutes) ...")
		tLog, err := os.OpenFile(filepath.Join(state, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer tLog.Close()
		wd, _ := os.Getwd()
		port, err := envInt("TENANTRY_TEMPORAL_PORT", 7233)
		if err != nil {
			return err
		}
		t, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
			ModuleDir: devstack.ModuleDirFrom(wd), DBFile: filepath.Join(state, "temporal.db"),
			Port: port, UIPort: port + 1000, Log: tLog,
		})
		if err != nil {
			return err
		}
		defer t.Stop()
		cfg.TemporalHostPort, uiURL = t.HostPort, t.UIURL
		cfg.TemporalUI = t.UIURL
	}

	key := os.Getenv(secret.KeyEnv)
	if key == "" {
		b, err := os.ReadFile(filepath.Join(state, "secret-key"))
		if os.IsNotExist(err) {
			b = []byte(secret.NewKey())
			err = os.WriteFile(filepath.Join(state, "secret-key"), b, 0o600)
		}
		if err != nil {
			return err
		}
		key = strings.TrimSpace(string(b))
	}
	cfg.SecretKey = key
	if cfg.GracePeriod, err = envDuration("TENANTRY_GRACE_PERIOD"); err != nil {
		return err
	}
	if cfg.SetupTimeout, err = envDuration("TENANTRY_SETUP_TIMEOUT"); err != nil {
		return err
	}
	if cfg.BillingPeriod, err = envDuration("TENANTRY_BILLING_PERIOD"); err != nil {
		return err
	}
	cfg.Operators = envList("TENANTRY_OPERATORS")

	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf(`
Tenantry is running.
  Console:      %s   (open it in a browser: sign up, enable a service)
  API:          %s/api/catalog
  Host router:  %s   (e.g. http://acme-forum.localhost:PORT once that host is enabled)
  Temporal UI:  %s
  Temporal:     %s   (cd temporal-dev && go tool temporal workflow list)
  PostgreSQL:   control database %s
  State:        %s (logs: postgres.log, temporal.log)
Press Ctrl-C to stop; run it again to resume where you left off.
`, s.URL, s.URL, s.RouterURL, orDash(uiURL), cfg.TemporalHostPort, redact(cfg.DatabaseURL), state)
	<-ctx.Done()
	fmt.Println("\nStopping ...")
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// redact hides the password of a database URL before it is printed.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	creds := url[scheme+3 : at]
	if i := strings.Index(creds, ":"); i >= 0 {
		return url[:scheme+3] + creds[:i] + ":***" + url[at:]
	}
	return url
}
