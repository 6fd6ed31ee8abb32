package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"tenantry/internal/platform"
)

func teamCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "team",
		Short: "List, invite, re-role and remove the members of your account",
		Long: "Roles: owner (everything on the account), member (see services and use them),\n" +
			"billing (see services and prices). The account always keeps an owner.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("team needs a command: list, invite, role or remove (see tenantry team --help)")
		},
	}
	g.add(cmd)

	list := &cobra.Command{Use: "list", Short: "The account's members, the earliest first", Args: cobra.NoArgs}
	list.RunE = g.run(env, true, func(c *call, _ []string) error {
		members, err := c.client.Team(c.ctx)
		if err != nil {
			return err
		}
		return c.print(members, func(w io.Writer) {
			tw := table(w, "USER", "EMAIL", "NAME", "ROLE")
			for _, m := range members {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.UserID, m.Email, m.Name, m.Role)
			}
			tw.Flush()
		})
	})

	var in platform.Invite
	invite := &cobra.Command{
		Use:   "invite --email EMAIL --name NAME [--role owner|member|billing]",
		Short: "Add someone to the account (a new user's one-time password is shown once)",
		Args:  cobra.NoArgs,
	}
	invite.Flags().StringVar(&in.Email, "email", "", "their email")
	invite.Flags().StringVar(&in.Name, "name", "", "their name")
	invite.Flags().StringVar(&in.Role, "role", "member", "owner, member or billing")
	_ = invite.MarkFlagRequired("email")
	_ = invite.MarkFlagRequired("name")
	invite.RunE = g.run(env, true, func(c *call, _ []string) error {
		out, err := c.client.InviteMember(c.ctx, in)
		if err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) {
			if out.Existing {
				fmt.Fprintf(w, "Added %s (%s) as %s: they log in as before and switch to this account.\n", out.Email, out.UserID, in.Role)
				return
			}
			fmt.Fprintf(w, "Invited %s (%s) as %s. Give them this password to log in; it is shown this once:\n%s\n",
				out.Email, out.UserID, in.Role, out.Password)
		})
	})

	role := &cobra.Command{Use: "role USER_ID ROLE", Short: "Give a member another role", Args: exactArgs("USER_ID", "ROLE")}
	role.RunE = g.run(env, true, func(c *call, args []string) error {
		if err := c.client.SetMemberRole(c.ctx, args[0], args[1]); err != nil {
			return err
		}
		return c.print(map[string]string{"user_id": args[0], "role": args[1]}, func(w io.Writer) {
			fmt.Fprintf(w, "%s is %s now.\n", args[0], args[1])
		})
	})

	remove := &cobra.Command{
		Use:   "remove USER_ID",
		Short: "Take a member off the account: their sessions and tokens stop acting on it at once",
		Args:  exactArgs("USER_ID"),
	}
	remove.RunE = g.run(env, true, func(c *call, args []string) error {
		if err := c.client.RemoveMember(c.ctx, args[0]); err != nil {
			return err
		}
		return c.print(map[string]string{"user_id": args[0], "state": "removed"}, func(w io.Writer) {
			fmt.Fprintf(w, "%s removed from the account.\n", args[0])
		})
	})
	cmd.AddCommand(list, invite, role, remove)
	return cmd
}
