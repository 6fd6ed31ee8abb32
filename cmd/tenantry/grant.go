package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/access"
	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/devstack"
	"tenantry/internal/platform"
)

// runGrant gives a user a platform role from a shell: the way to the first
// developer, who grants the next ones from the console. Whoever can reach
// the control database may run it; nothing else is needed.
func runGrant(ctx context.Context, args []string, out io.Writer, cfg config.Config) error {
	fs := flag.NewFlagSet("grant", flag.ContinueOnError)
	fs.SetOutput(out)
	email := fs.String("email", "", "the user's email (they have signed up or been invited)")
	role := fs.String("role", "", "the platform role: "+strings.Join(access.PlatformRoles, " or "))
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: tenantry grant --email EMAIL --role developer|billing-operator")
		fmt.Fprintln(out, "  DATABASE_URL names the control database; without it, the dev stack's in TENANTRY_STATE_DIR (.state).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" || *role == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("grant needs --email and --role")
	}
	db, err := openControl(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	p := platform.New(&platform.Platform{DB: db, Log: slog.New(slog.DiscardHandler)})
	g, err := p.BootstrapPlatformRole(ctx, *email, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (%s) now holds the platform role %s.\n", g.Email, g.Name, g.Role)
	return nil
}

// openControl opens (and migrates) the control database for an operator's
// command: DATABASE_URL, or else the dev stack's in TENANTRY_STATE_DIR.
func openControl(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	url := cfg.DatabaseURL
	if url == "" {
		dir, err := filepath.Abs(cfg.StateDir)
		if err != nil {
			return nil, err
		}
		if url, err = devstack.RunningURL(dir); err != nil {
			return nil, err
		}
	}
	if err := controldb.Migrate(ctx, url); err != nil {
		return nil, err
	}
	return controldb.Open(ctx, url)
}
