// Command tenantry runs Tenantry: `tenantry dev` brings up the whole local
// stack; `tenantry worker`, `tenantry web` and `tenantry router` run one
// part each against servers named by the environment (internal/config reads
// it, once, for every command; the README lists every variable).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"tenantry/internal/config"
	"tenantry/internal/stack"
)

const usage = `usage: tenantry <command>

  dev      run the whole local stack (PostgreSQL, Temporal dev server, worker, web, host router)
  worker   run the Temporal worker                 (DATABASE_URL, TENANTRY_SECRET_KEY, TEMPORAL_*)
  web      run the web server and API              (same, plus TENANTRY_LISTEN)
  router   run the host router for tenant traffic  (DATABASE_URL, TENANTRY_SECRET_KEY, TENANTRY_ROUTER_LISTEN)
  grant    give a user a platform role: tenantry grant --email EMAIL --role developer|billing-operator

Every environment variable is listed in the README ("Configuration").
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := config.Command(os.Args[1])
	switch cmd {
	case config.Dev, config.Worker, config.Web, config.Router, grantCommand:
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// The first SIGTERM or Ctrl-C stops gracefully (requests in flight
	// finish, the worker hands its tasks back, the meter flushes); a
	// second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(ctx, log, cmd); err != nil {
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		os.Exit(1)
	}
}

// grantCommand is the operator's command that needs only the control
// database.
const grantCommand config.Command = "grant"

func run(ctx context.Context, log *slog.Logger, cmd config.Command) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cmd == grantCommand {
		return runGrant(ctx, os.Args[2:], os.Stdout, cfg)
	}
	if err := cfg.Require(cmd); err != nil {
		return err
	}
	if cmd == config.Dev {
		return runDev(ctx, log, cfg)
	}
	return runPart(ctx, stackFor(cmd, cfg, log))
}

// stackFor says what one part runs: the worker no listener, the web server
// no host router, the router neither the worker nor the web server.
func stackFor(cmd config.Command, cfg config.Config, log *slog.Logger) stack.Config {
	s := stack.Config{Config: cfg, Log: log}
	switch cmd {
	case config.Worker:
		s.RunWorker, s.Listen, s.RouterListen = true, "", ""
	case config.Web:
		s.RouterListen = ""
	case config.Router:
		s.Listen = ""
	}
	return s
}

// runPart runs the worker, the web server or a host router until the
// context ends; several of each may run at once.
func runPart(ctx context.Context, cfg stack.Config) error {
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Stop()
	if s.URL != "" {
		fmt.Println("web server on", s.URL)
	}
	if s.RouterURL != "" {
		fmt.Println("host router on", s.RouterURL)
	}
	if s.AdminURL != "" {
		fmt.Println("metrics on", s.AdminURL+"/metrics")
	}
	<-ctx.Done()
	return nil
}
