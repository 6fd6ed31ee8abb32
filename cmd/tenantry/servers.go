package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"tenantry/internal/config"
	"tenantry/internal/dbserver"
	"tenantry/internal/platform"
	"tenantry/internal/secret"
)

// serversCommand manages the fleet of database servers from a shell.
const serversCommand config.Command = "servers"

const serversUsage = `usage: tenantry servers <command>

  list                                   every server with its state, capacity and load
  add --name NAME [--capacity N] < URL   check and register a server; its admin URL is read from stdin
  drain NAME [--move]                    stop new placements on it; --move also moves every instance off it
  activate NAME                          let it take new instances again
  check NAME                             check it (reachable, admin rights, PUBLIC closed) and keep the result

It talks to the control database directly, as an operator holding its
credentials: DATABASE_URL and TENANTRY_SECRET_KEY, or else the dev stack's
in TENANTRY_STATE_DIR (.state). --move also needs Temporal (TEMPORAL_*, or
the dev stack's at 127.0.0.1:7233).
`

// runServers runs `tenantry servers …` through the platform layer's
// operations, as the shell's operator (platform.ShellOperator).
func runServers(ctx context.Context, args []string, in io.Reader, out io.Writer, cfg config.Config) error {
	if len(args) == 0 {
		fmt.Fprint(out, serversUsage)
		return errors.New("servers needs a command")
	}
	key, err := operatorKey(cfg)
	if err != nil {
		return err
	}
	cipher, err := secret.NewCipher(key)
	if err != nil {
		return err
	}
	db, err := openControl(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fleet := dbserver.NewPools(db, cipher)
	defer fleet.Close()
	p := platform.New(&platform.Platform{DB: db, Fleet: fleet, Cipher: cipher, MoveGrace: cfg.MoveGrace,
		Log: slog.New(slog.DiscardHandler)})
	who := platform.ShellOperator()
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("servers "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	switch cmd {
	case "list":
		list, err := p.Servers(ctx, who)
		if err != nil {
			return err
		}
		printServers(out, list)
		return nil
	case "add":
		name := fs.String("name", "", "the server's name (lowercase letters, digits, dashes)")
		capacity := fs.Int("capacity", 0, "how many instances it takes (0: the default)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		url, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		s, check, err := p.RegisterServer(ctx, who, platform.NewServer{Name: *name, AdminURL: strings.TrimSpace(url), Capacity: *capacity})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s is registered (PostgreSQL %s at %s:%d, %d instances) and takes new instances.\n",
			s.Name, check.Version, s.Host, s.Port, s.Capacity)
		return nil
	case "drain", "activate", "check":
		move := false
		if cmd == "drain" {
			fs.BoolVar(&move, "move", false, "also move every instance off it, a few at a time")
		}
		name, flags := nameFirst(rest)
		if err := fs.Parse(flags); err != nil {
			return err
		}
		if name == "" {
			return fmt.Errorf("servers %s needs a server's name", cmd)
		}
		return serverAction(ctx, p, who, cfg, out, cmd, name, move)
	default:
		fmt.Fprint(out, serversUsage)
		return fmt.Errorf("unknown servers command %q", cmd)
	}
}

func serverAction(ctx context.Context, p *platform.Platform, who platform.Principal, cfg config.Config, out io.Writer,
	cmd, name string, move bool) error {
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
		defer c.Close()
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

// nameFirst splits `NAME --flags` (or `--flags NAME`) into the name and
// the flags.
func nameFirst(args []string) (string, []string) {
	var name string
	var flags []string
	for _, a := range args {
		if name == "" && !strings.HasPrefix(a, "-") {
			name = a
			continue
		}
		flags = append(flags, a)
	}
	return name, flags
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
