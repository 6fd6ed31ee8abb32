package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/client"
	"tenantry/internal/config"
	"tenantry/internal/platform"
)

func signupCommand(env *Env) *cobra.Command {
	var g globals
	var in platform.SignupInput
	var passwordFile string
	cmd := &cobra.Command{
		Use:   "signup --email EMAIL --name NAME [--account-name COMPANY] [--password-file FILE]",
		Short: "Create an account and its owner (you)",
		Long: "Create an account and its owner. The password (12 characters at least) is asked without echo,\n" +
			"twice, or read from --password-file (- reads standard input). Then log in with `tenantry login`.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&in.Email, "email", "", "your email (your login)")
	cmd.Flags().StringVar(&in.Name, "name", "", "your name")
	cmd.Flags().StringVar(&in.AccountName, "account-name", "", "your company (the account's name)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file instead of asking")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("name")
	g.add(cmd)
	cmd.RunE = g.run(env, false, func(c *call, _ []string) error {
		var err error
		if in.Password, err = c.readSecret(passwordFile, "Password (12 characters at least): ", true); err != nil {
			return err
		}
		res, err := c.client.Signup(c.ctx, in)
		if err != nil {
			return err
		}
		return c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "Signed up %s: account %s.\nLog in with: tenantry login --email %s\n", res.Email, res.AccountID, res.Email)
		})
	})
	return cmd
}

func loginCommand(env *Env) *cobra.Command {
	var g globals
	var email, passwordFile, account string
	cmd := &cobra.Command{
		Use:   "login --email EMAIL [--account ACCOUNT_ID] [--password-file FILE]",
		Short: "Log in and save the token for this server",
		Long: "Log in with your email and password (asked without echo, or read from --password-file; - reads\n" +
			"standard input). The token (valid 30 days) is saved for this server in your config folder,\n" +
			"readable by you only; this server becomes the default of the other commands. --account picks\n" +
			"which of your accounts the token acts on (the first one without it).",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&email, "email", "", "your email")
	cmd.Flags().StringVar(&account, "account", "", "the account ID to act on, when you belong to several")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file instead of asking")
	_ = cmd.MarkFlagRequired("email")
	g.add(cmd)
	cmd.RunE = g.run(env, false, func(c *call, _ []string) error {
		password, err := c.readSecret(passwordFile, "Password: ", false)
		if err != nil {
			return err
		}
		tok, err := c.client.Login(c.ctx, email, password, account)
		if err != nil {
			return err
		}
		saved := Login{Token: tok.Token, Email: strings.ToLower(strings.TrimSpace(email)), AccountID: tok.AccountID, ExpiresAt: tok.ExpiresAt}
		if err := c.store.update(func(cr *credentials) {
			cr.Servers[c.url] = saved
			cr.Current = c.url
		}); err != nil {
			return fmt.Errorf("logged in, but the token could not be saved: %w", err)
		}
		out := struct {
			Server    string    `json:"server"`
			Email     string    `json:"email"`
			AccountID string    `json:"account_id"`
			ExpiresAt time.Time `json:"expires_at"`
			SavedIn   string    `json:"saved_in"`
		}{c.url, saved.Email, saved.AccountID, saved.ExpiresAt, c.store.path()}
		return c.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "Logged in to %s as %s, account %s, until %s.\nToken saved in %s.\n",
				out.Server, out.Email, out.AccountID, out.ExpiresAt.Format(time.DateTime+" MST"), out.SavedIn)
		})
	})
	return cmd
}

func logoutCommand(env *Env) *cobra.Command {
	var g globals
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the login token and forget it",
		Long: "Revoke the login token in use (the one saved for this server, or " + config.ClientTokenEnv + ") on the\n" +
			"server and remove it from your config folder. API tokens are revoked with `tenantry tokens revoke`.",
		Args: cobra.NoArgs,
	}
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, _ []string) error {
		if strings.HasPrefix(c.client.Token, platform.APITokenPrefix) {
			return fmt.Errorf("%s holds an API token: revoke it with `tenantry tokens revoke ID`", config.ClientTokenEnv)
		}
		err := c.client.Logout(c.ctx)
		if err != nil && client.StatusOf(err) != http.StatusUnauthorized {
			return err
		}
		// An expired or already revoked token is logged out too.
		expired := err != nil
		if c.saved != nil && c.saved.Token == c.client.Token {
			// The server stays the default: the next command says it
			// needs a login there.
			if err := c.store.update(func(cr *credentials) { delete(cr.Servers, c.url) }); err != nil {
				return errors.Join(errors.New("the token is revoked, but could not be removed from "+c.store.path()), err)
			}
		}
		out := map[string]any{"server": c.url, "revoked": !expired}
		return c.print(out, func(w io.Writer) {
			if expired {
				fmt.Fprintf(w, "Logged out of %s (the token had already ended).\n", c.url)
				return
			}
			fmt.Fprintf(w, "Logged out of %s: the token is revoked.\n", c.url)
		})
	})
	return cmd
}
