// Command tenantry runs Tenantry and talks to it. `tenantry dev` brings up
// the whole local stack; `tenantry worker`, `tenantry web` and `tenantry
// router` run one part each against servers named by the environment
// (internal/config reads it, once, for every command; the README lists
// every variable); `tenantry grant` gives a platform role and `tenantry
// servers` manages the database servers, from a shell.
// The client commands (signup, login, enable, billing, ...) use the JSON
// API of a running server (internal/cli). One parser, cobra, reads every
// command's flags and writes every --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"tenantry/internal/cli"
	"tenantry/internal/config"
	"tenantry/internal/stack"
	"tenantry/worker"
)

func main() {
	// The first SIGTERM or Ctrl-C stops gracefully (requests in flight
	// finish, the worker hands its tasks back, the meter flushes); a
	// second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	err := rootCommand().ExecuteContext(ctx)
	stop()
	var failed *cli.Failed
	switch {
	case err == nil:
	case errors.As(err, &failed) && failed.Reported:
	case errors.As(err, &failed):
		fmt.Fprintln(os.Stderr, "tenantry:", err)
	default:
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		fmt.Fprintln(os.Stderr, "Run 'tenantry --help' for the commands, 'tenantry COMMAND --help' for one.")
	}
	os.Exit(cli.ExitCode(err))
}

// serverGroup is the help group of the commands that run Tenantry.
const serverGroup = "server"

// rootCommand is the tenantry command with every subcommand.
func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tenantry",
		Short: "Tenantry: a provisioning engine for database-backed SaaS",
		Long: "Tenantry runs the platform (dev, worker, web, router, grant, servers) and is its command-line client\n" +
			"(signup, login, enable, billing, ...). Every environment variable is listed in the README\n" +
			"(\"Configuration\").",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a command, the help, and a failing exit status.
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(os.Stderr)
			_ = cmd.Help()
			return errors.New("no command given")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddGroup(&cobra.Group{ID: serverGroup, Title: "Run Tenantry:"},
		&cobra.Group{ID: cli.GroupID, Title: "Use Tenantry (client commands over the JSON API):"})
	// The environment is read once, by the first command that needs it.
	env := sync.OnceValues(config.FromEnv)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, c := range []*cobra.Command{
		partCommand(config.Dev, "Run the whole local stack (PostgreSQL, Temporal dev server, worker, web, host router)", env, log),
		partCommand(config.Worker, "Run the Temporal worker (DATABASE_URL, TENANTRY_SECRET_KEY, TEMPORAL_*)", env, log),
		partCommand(config.Web, "Run the web server and API (the same, plus TENANTRY_LISTEN)", env, log),
		partCommand(config.Router, "Run the host router for tenant traffic (DATABASE_URL, TENANTRY_SECRET_KEY, TENANTRY_ROUTER_LISTEN)", env, log),
		grantCommand(env),
		serversCommand(env),
	} {
		c.GroupID = serverGroup
		root.AddCommand(c)
	}
	root.AddCommand(cli.Commands(&cli.Env{Config: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ConfigDir: os.UserConfigDir})...)
	return root
}

// partCommand runs the whole dev stack or one part of a stack.
func partCommand(cmd config.Command, short string, env func() (config.Config, error), log *slog.Logger) *cobra.Command {
	return &cobra.Command{
		Use:   string(cmd),
		Short: short,
		Long:  short + ".\nEvery environment variable is listed in the README (\"Configuration\").",
		Args:  cobra.NoArgs,
		RunE: cli.Run(func(c *cobra.Command, _ []string) error {
			cfg, err := env()
			if err != nil {
				return err
			}
			if err := cfg.Require(cmd); err != nil {
				return err
			}
			if cmd == config.Dev {
				return runDev(c.Context(), log, cfg)
			}
			return runPart(c.Context(), stackFor(cmd, cfg, log))
		}),
	}
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
	if cfg.RunWorker {
		fmt.Println("worker of build", cfg.BuildID, "in deployment", worker.DeploymentName)
	}
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
