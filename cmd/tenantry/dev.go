package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"tenantry/internal/config"
	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
)

// runDev starts PostgreSQL and the Temporal dev server as children (unless
// DATABASE_URL or the Temporal configuration's address point elsewhere),
// then the worker, the web server and the host router in this process.
// Everything lives in cfg.StateDir, so a second run resumes with every
// account, tenant database and running workflow.
func runDev(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	state, err := filepath.Abs(cfg.StateDir)
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

	if cfg.DatabaseURL == "" {
		fmt.Printf("Starting PostgreSQL (state in %s) ...\n", filepath.Join(state, "pgdata"))
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: state, Durable: true, Log: pgLog})
		if err != nil {
			return err
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.AdminURL
	}

	// More database servers for tenants, each its own private cluster.
	var extra []stack.TenantServer
	for i := 2; i <= cfg.DevDBServers; i++ {
		dir := filepath.Join(state, fmt.Sprintf("db-server-%d", i))
		fmt.Printf("Starting database server local-%d (state in %s) ...\n", i, dir)
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: dir, Durable: true, Log: pgLog})
		if err != nil {
			return err
		}
		defer pg.Stop()
		extra = append(extra, stack.TenantServer{Name: fmt.Sprintf("local-%d", i), AdminURL: pg.AdminURL})
	}

	if cfg.Temporal.HostPort == "" {
		tLog, err := os.OpenFile(filepath.Join(state, "temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer tLog.Close()
		stop, err := startTemporal(ctx, &cfg, state, tLog)
		if err != nil {
			return err
		}
		defer stop()
	}

	if cfg.SecretKey == "" {
		if cfg.SecretKey, err = devSecretKey(filepath.Join(state, "secret-key")); err != nil {
			return err
		}
	}

	s, err := stack.Start(ctx, stack.Config{Config: cfg, RunWorker: true, Log: log, TenantServers: extra})
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
  Temporal:     %s, namespace %s   (cd temporal-dev && %s)
  PostgreSQL:   control database %s
  Servers:      %s   (tenant databases; go run ./cmd/tenantry servers list)
  State:        %s (logs: postgres.log, temporal.log)
Press Ctrl-C to stop; run it again to resume where you left off.
`, s.URL, s.URL, s.RouterURL, orDash(cfg.TemporalUI), cfg.TemporalAddress(), cfg.Namespace(), workflowList(cfg),
		redact(cfg.DatabaseURL), serverNames(extra), state)
	<-ctx.Done()
	fmt.Println("\nStopping ...")
	return nil
}

// startTemporal starts the Temporal server cfg.TemporalServer names, with
// its state in state, and points cfg at it (the rest of the client options,
// namespace included, stay as envconfig read them).
func startTemporal(ctx context.Context, cfg *config.Config, state string, log *os.File) (stop func(), err error) {
	wd, _ := os.Getwd()
	module := devstack.ModuleDirFrom(wd)
	uiPort := cfg.TemporalPort + config.TemporalUIOffset
	if cfg.TemporalServer == config.TemporalCluster {
		fmt.Println("Starting the Temporal server on PostgreSQL (databases temporal, temporal_visibility; the first run builds it: a few minutes) ...")
		c, err := devstack.StartTemporalCluster(ctx, devstack.ClusterOptions{
			ModuleDir: module, AdminURL: cfg.DatabaseURL, StateDir: filepath.Join(state, "temporal-cluster"),
			Port: cfg.TemporalPort, UIPort: uiPort, Namespace: cfg.Namespace(), Log: log,
		})
		if err != nil {
			return nil, err
		}
		cfg.Temporal.HostPort, cfg.TemporalUI = c.HostPort, c.UIURL
		return c.Stop, nil
	}
	fmt.Println("Starting the Temporal dev server (the first run builds the CLI: a few minutes) ...")
	t, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		ModuleDir: module, DBFile: filepath.Join(state, "temporal.db"),
		Port: cfg.TemporalPort, UIPort: uiPort, Namespace: cfg.Namespace(), Log: log,
	})
	if err != nil {
		return nil, err
	}
	cfg.Temporal.HostPort, cfg.TemporalUI = t.HostPort, t.UIURL
	return t.Stop, nil
}

// devSecretKey reads the dev stack's key from file, making one the first
// time.
func devSecretKey(file string) (string, error) {
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		b = []byte(secret.NewKey())
		err = os.WriteFile(file, b, 0o600)
	}
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if _, err := secret.NewCipher(key); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return key, nil
}

// workflowList is the CLI command that lists the stack's workflows; the
// CLI's defaults are 127.0.0.1:7233 and "default".
func workflowList(cfg config.Config) string {
	cmd := "go tool temporal workflow list"
	if a := cfg.TemporalAddress(); a != "127.0.0.1:7233" && a != "localhost:7233" {
		cmd += " --address " + a
	}
	if ns := cfg.Namespace(); ns != "default" {
		cmd += " --namespace " + ns
	}
	return cmd
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

// serverNames names the database servers the dev stack registers.
func serverNames(extra []stack.TenantServer) string {
	names := []string{"local"}
	for _, s := range extra {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}
