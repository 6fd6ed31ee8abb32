package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"tenantry/internal/access"
	"tenantry/internal/cli"
	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/devstack"
	"tenantry/internal/platform"
)

// grantCommand gives a user a platform role from a shell: the way to the
// first developer, who grants the next ones from the console. Whoever can
// reach the control database may run it; nothing else is needed.
func grantCommand(env func() (config.Config, error)) *cobra.Command {
	var email, role string
	cmd := &cobra.Command{
		Use:   "grant --email EMAIL --role " + strings.Join(access.PlatformRoles, "|"),
		Short: "Give a user a platform role (the first developer, from a shell)",
		Long: "Give a user who has signed up (or been invited) a platform role.\n" +
			"DATABASE_URL names the control database; without it, the dev stack's in TENANTRY_STATE_DIR (.state).",
		Args: cobra.NoArgs,
		RunE: cli.Run(func(c *cobra.Command, _ []string) error {
			cfg, err := env()
			if err != nil {
				return err
			}
			return runGrant(c.Context(), email, role, c.OutOrStdout(), cfg)
		}),
	}
	cmd.Flags().StringVar(&email, "email", "", "the user's email (they have signed up or been invited)")
	cmd.Flags().StringVar(&role, "role", "", "the platform role: "+strings.Join(access.PlatformRoles, " or "))
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// runGrant grants role to the user with email.
func runGrant(ctx context.Context, email, role string, out io.Writer, cfg config.Config) error {
	db, err := openControl(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	p := platform.New(&platform.Platform{DB: db, Log: slog.New(slog.DiscardHandler)})
	g, err := p.BootstrapPlatformRole(ctx, email, role)
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
