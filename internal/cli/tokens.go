package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/platform"
)

func tokensCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Make, list and revoke API tokens",
		Long: "API tokens act on your account with some of your permissions, for scripts and other systems\n" +
			"(send one as TENANTRY_TOKEN, or as Authorization: Bearer ...). Only their SHA-256 is stored.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("tokens needs a command: create, list or revoke (see tenantry tokens --help)")
		},
	}
	g.add(cmd)

	var in platform.NewAPIToken
	create := &cobra.Command{
		Use:   "create --name NAME --permission PERM [--permission PERM ...] [--expires-in-days N]",
		Short: "Make an API token (shown once)",
		Long: "Make an API token with some of the permissions you hold (tenantry tokens list shows which);\n" +
			"patterns such as forum.* are allowed. The token is shown this once.",
		Args: cobra.NoArgs,
	}
	create.Flags().StringVar(&in.Name, "name", "", "what uses the token")
	create.Flags().StringSliceVar(&in.Permissions, "permission", nil, "a permission the token holds (repeat, or comma-separated)")
	create.Flags().IntVar(&in.ExpiresInDays, "expires-in-days", 0, "the token ends after this many days (1 to 3650; default: no end)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("permission")
	create.RunE = g.run(env, true, func(c *call, _ []string) error {
		t, err := c.client.CreateToken(c.ctx, in)
		if err != nil {
			return err
		}
		return c.print(t, func(w io.Writer) {
			fmt.Fprintf(w, "API token %s (%s) made: %s\n%s\nIt is shown this once: keep it now.\n", t.Name, t.ID, strings.Join(t.Permissions, ", "), t.Token)
		})
	})

	list := &cobra.Command{
		Use:   "list",
		Short: "Your API tokens (never their secrets) and the permissions a new one may hold",
		Args:  cobra.NoArgs,
	}
	list.RunE = g.run(env, true, func(c *call, _ []string) error {
		ts, err := c.client.Tokens(c.ctx)
		if err != nil {
			return err
		}
		return c.print(ts, func(w io.Writer) {
			if len(ts.Tokens) == 0 {
				fmt.Fprintln(w, "No API tokens yet: tenantry tokens create --name NAME --permission PERM")
			} else {
				tw := table(w, "ID", "NAME", "STATE", "PERMISSIONS", "CREATED", "EXPIRES")
				for _, t := range ts.Tokens {
					expires := "never"
					if t.ExpiresAt != nil {
						expires = t.ExpiresAt.UTC().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.State, strings.Join(t.Permissions, ","),
						t.CreatedAt.UTC().Format(time.DateTime), expires)
				}
				tw.Flush()
			}
			fmt.Fprintf(w, "\nA new token may hold: %s\n", strings.Join(ts.Permissions, ", "))
		})
	})

	revoke := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke an API token: refused at once everywhere",
		Args:  exactArgs("TOKEN_ID"),
	}
	revoke.RunE = g.run(env, true, func(c *call, args []string) error {
		if err := c.client.RevokeToken(c.ctx, args[0]); err != nil {
			return err
		}
		return c.print(map[string]any{"id": args[0], "state": "revoked"}, func(w io.Writer) {
			fmt.Fprintf(w, "API token %s revoked: it is refused from now on.\n", args[0])
		})
	})
	cmd.AddCommand(create, list, revoke)
	return cmd
}
