package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"tenantry/internal/cli"
	"tenantry/internal/config"
	"tenantry/internal/dbserver"
	"tenantry/internal/platform"
	"tenantry/internal/secret"
)

// serversCommand manages the fleet of database servers from a shell. It
// talks to the control database directly, through the platform layer's
// operations as the shell's operator (platform.ShellOperator), like
// `tenantry grant`: whoever holds the control database's credentials and
// the secret key can do this anyway.
func serversCommand(env func() (config.Config, error)) *cobra.Command {
	root := &cobra.Command{
		Use:   "servers",
		Short: "The database servers: list, add, drain, activate, check (from a shell)",
		Long: "Manage the fleet of database servers that hold the tenant databases.\n" +
			"It talks to the control database directly, as an operator holding its credentials:\n" +
			"DATABASE_URL and TENANTRY_SECRET_KEY, or else the dev stack's in TENANTRY_STATE_DIR (.state).\n" +
			"drain --move also needs Temporal (TEMPORAL_*, or the dev stack's at 127.0.0.1:7233).",
		Args: cobra.NoArgs,
	}
	run := func(fn func(c *cobra.Command, o *operator, args []string) error) func(*cobra.Command, []string) error {
		return cli.Run(func(c *cobra.Command, args []string) error {
			cfg, err := env()
			if err != nil {
				return err
			}
			o, err := openOperator(c.Context(), cfg)
			if err != nil {
				return err
			}
			defer o.close()
			return fn(c, o, args)
		})
	}
	var name string
	var capacity int
	add := &cobra.Command{
		Use:   "add --name NAME [--capacity N] < ADMIN_URL",
		Short: "Check and register a server; its admin URL is read from standard input",
		Long: "Check a server (reachable, its admin role can CREATE ROLE and CREATE DATABASE, every database\n" +
			"Tenantry does not own closed to PUBLIC) and register it. The admin URL comes on standard input\n" +
			"(echo \"postgres://admin:…@host:5432/postgres\" | tenantry servers add --name pg-2), so it stays\n" +
			"out of the shell's history and the process list; it is stored encrypted and never printed.",
		Args: cobra.NoArgs,
		RunE: run(func(c *cobra.Command, o *operator, _ []string) error {
			url, err := bufio.NewReader(c.InOrStdin()).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			s, check, err := o.p.RegisterServer(c.Context(), o.who, platform.NewServer{Name: name,
				AdminURL: strings.TrimSpace(url), Capacity: capacity})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s is registered (PostgreSQL %s at %s:%d, %d instances) and takes new instances.\n",
				s.Name, check.Version, s.Host, s.Port, s.Capacity)
			return nil
		}),
	}
	add.Flags().StringVar(&name, "name", "", "the server's name (lowercase letters, digits, dashes)")
	add.Flags().IntVar(&capacity, "capacity", 0, "how many instances it takes (0: the default, 1000)")
	_ = add.MarkFlagRequired("name")
	var move bool
	drain := &cobra.Command{
		Use:   "drain NAME [--move]",
		Short: "Stop new placements on a server; --move also moves every instance off it",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(c *cobra.Command, o *operator, args []string) error {
			return o.action(c.Context(), c.OutOrStdout(), "drain", args[0], move)
		}),
	}
	drain.Flags().BoolVar(&move, "move", false, "also move every instance off it, a few at a time (DrainServer workflow)")
	root.AddCommand(
		&cobra.Command{
			Use: "list", Short: "Every server with its state, capacity, load and last check", Args: cobra.NoArgs,
			RunE: run(func(c *cobra.Command, o *operator, _ []string) error {
				list, err := o.p.Servers(c.Context(), o.who)
				if err == nil {
					printServers(c.OutOrStdout(), list)
				}
				return err
			}),
		},
		add, drain,
		&cobra.Command{
			Use: "activate NAME", Short: "Let a server take new instances again", Args: cobra.ExactArgs(1),
			RunE: run(func(c *cobra.Command, o *operator, args []string) error {
				return o.action(c.Context(), c.OutOrStdout(), "activate", args[0], false)
			}),
		},
		&cobra.Command{
			Use: "check NAME", Short: "Check a server (reachable, admin rights, PUBLIC closed) and keep the result", Args: cobra.ExactArgs(1),
			RunE: run(func(c *cobra.Command, o *operator, args []string) error {
				return o.action(c.Context(), c.OutOrStdout(), "check", args[0], false)
			}),
		},
	)
	return root
}

// operator is the platform layer as the shell's operator sees it.
type operator struct {
	p     *platform.Platform
	who   platform.Principal
	cfg   config.Config
	close func()
}

func openOperator(ctx context.Context, cfg config.Config) (*operator, error) {
	key, err := operatorKey(cfg)
	if err != nil {
		return nil, err
	}
	cipher, err := secret.NewCipher(key)
	if err != nil {
		return nil, err
	}
	db, err := openControl(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fleet := dbserver.NewPools(db, cipher)
	o := &operator{cfg: cfg, who: platform.ShellOperator(),
		p: platform.New(&platform.Platform{DB: db, Fleet: fleet, Cipher: cipher, MoveGrace: cfg.MoveGrace,
			Log: slog.New(slog.DiscardHandler)})}
	o.close = func() {
		if o.p.Temporal != nil {
			o.p.Temporal.Close()
		}
		fleet.Close()
		db.Close()
	}
	return o, nil
}

// action drains, activates or checks a server.
func (o *operator) action(ctx context.Context, out io.Writer, cmd, name string, move bool) error {
	p, who, cfg := o.p, o.who, o.cfg
	switch {
	case cmd == "check":
		check, err := p.CheckServer(ctx, who, name)
		if err != nil {
			return err
		}
		if !check.OK() {
			return fmt.Errorf("%s has problems:\n  %s", name, strings.Join(check.Problems, "\n  "))
		}
		fmt.Fprintf(out, "%s passed its check (PostgreSQL %s).\n", name, check.Version)
		return nil
	case cmd == "drain" && move:
		opts := cfg.Temporal
		if opts.HostPort == "" {
			opts.HostPort = "127.0.0.1:7233"
		}
		c, err := client.Dial(opts)
		if err != nil {
			return fmt.Errorf("connect to Temporal at %s: %w", opts.HostPort, err)
		}
		p.Temporal = c
		id, err := p.DrainServer(ctx, who, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is draining; its instances move off it (workflow %s).\n", name, id)
		return nil
	default:
		state := platform.ServerActive
		if cmd == "drain" {
			state = platform.ServerDraining
		}
		s, err := p.SetServerState(ctx, who, name, state)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is %s (%d instances on it).\n", s.Name, s.State, s.Instances)
		return nil
	}
}

func printServers(out io.Writer, list []platform.Server) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDRESS\tSTATE\tINSTANCES\tDATABASES\tCONNECTIONS\tCHECK")
	for _, s := range list {
		size, conns := "-", "-"
		if s.Load != nil {
			size = fmt.Sprintf("%.1f MB", float64(s.Load.DatabaseBytes)/(1<<20))
			conns = fmt.Sprintf("%d (tenants %d) of %d", s.Load.Connections, s.Load.TenantConnections, s.Load.MaxConnections)
		}
		check := "never"
		switch {
		case s.LoadError != "":
			check = s.LoadError
		case len(s.CheckProblems) > 0:
			check = strings.Join(s.CheckProblems, "; ")
		case s.CheckedAt != nil:
			check = "fine at " + s.CheckedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "%s\t%s:%d\t%s\t%d of %d\t%s\t%s\t%s\n", s.Name, s.Host, s.Port, s.State, s.Instances, s.Capacity, size, conns, check)
	}
	_ = w.Flush()
}

// operatorKey is TENANTRY_SECRET_KEY, or else the dev stack's key in
// TENANTRY_STATE_DIR (never made here: a new key could not open what is
// sealed).
func operatorKey(cfg config.Config) (string, error) {
	if cfg.SecretKey != "" {
		return cfg.SecretKey, nil
	}
	file := filepath.Join(cfg.StateDir, "secret-key")
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("set %s (or run go tool task dev first, which keeps one in %s): %w", config.SecretKeyEnv, file, err)
	}
	return strings.TrimSpace(string(b)), nil
}
