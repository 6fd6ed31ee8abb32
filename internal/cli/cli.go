// Package cli owns the tenantry command's client commands (signup, login,
// enable, billing, tokens, ...): cobra commands over the JSON API through
// internal/client, the login tokens saved per server in the user's config
// folder, text or JSON output and the live progress display. They hold no
// rules: every check is the API's, and its message is what the user sees.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"tenantry/internal/client"
	"tenantry/internal/config"
)

// GroupID is the help group of the client commands.
const GroupID = "client"

// Env is what the client commands read and write: the configuration
// (read once, on first use), the streams and where tokens are saved.
type Env struct {
	// Config reads the environment (config.FromEnv, once).
	Config func() (config.Config, error)
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ConfigDir is the user's config folder (os.UserConfigDir); tokens
	// are saved in its tenantry/ folder.
	ConfigDir func() (string, error)
}

// Commands are the client commands, to add to the root command.
func Commands(env *Env) []*cobra.Command {
	cmds := []*cobra.Command{
		signupCommand(env), loginCommand(env), logoutCommand(env),
		catalogCommand(env), instancesCommand(env), instanceCommand(env),
		enableCommand(env), setupCommand(env), modulesCommand(env), disableCommand(env), enableAgainCommand(env),
		logsCommand(env),
		billingCommand(env), invoicesCommand(env), invoiceCommand(env),
		tokensCommand(env),
		teamCommand(env),
	}
	for _, c := range cmds {
		c.GroupID = GroupID
	}
	return cmds
}

// globals are the flags every client command takes.
type globals struct {
	url    string
	output string
}

func (g *globals) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&g.url, "url", "",
		"the Tenantry web server (default: $TENANTRY_URL, else the server of your last login, else "+config.DefaultClientURL+")")
	cmd.PersistentFlags().StringVarP(&g.output, "output", "o", "text", "text, or json for scripts")
}

// call is one run of a client command: its settings resolved, a client
// for its server and the streams.
type call struct {
	ctx    context.Context
	env    *Env
	url    string
	json   bool
	out    io.Writer
	client *client.Client
	// saved is the token saved for url at login, if any.
	saved *Login
	store *store
}

// Failed marks an error of a command that ran (the API's refusal, a
// server out of reach, ...): the tenantry command exits 1 for it and 2 for
// every other error (a bad flag, a missing argument, an unknown command).
type Failed struct {
	Err error
	// Reported: the error was already written (as JSON, with --output
	// json).
	Reported bool
}

func (f *Failed) Error() string { return f.Err.Error() }
func (f *Failed) Unwrap() error { return f.Err }

// ExitCode is the exit status for an error Execute returned.
func ExitCode(err error) int {
	var f *Failed
	switch {
	case err == nil:
		return 0
	case errors.As(err, &f):
		return 1
	default:
		return 2
	}
}

// Run wraps a command's work so its errors count as Failed (exit 1).
func Run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := fn(cmd, args); err != nil {
			return &Failed{Err: err}
		}
		return nil
	}
}

// run resolves the settings and runs fn; with --output json its error
// goes to stderr as {"error": ..., "status": ...}.
func (g *globals) run(env *Env, needToken bool, fn func(c *call, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		asJSON := false
		switch g.output {
		case "text":
		case "json":
			asJSON = true
		default:
			return fmt.Errorf("--output %q: want text or json", g.output)
		}
		c, err := g.resolve(cmd.Context(), env, needToken)
		if err == nil {
			c.json = asJSON
			err = fn(c, args)
		}
		if err == nil {
			return nil
		}
		if asJSON {
			_ = json.NewEncoder(env.Stderr).Encode(client.Error{Status: client.StatusOf(err), Message: err.Error()})
		}
		return &Failed{Err: err, Reported: asJSON}
	}
}

// resolve picks the server (--url, TENANTRY_URL, the last login's, the
// default) and the token (TENANTRY_TOKEN, else the one saved for that
// server).
func (g *globals) resolve(ctx context.Context, env *Env, needToken bool) (*call, error) {
	cfg, err := env.Config()
	if err != nil {
		return nil, err
	}
	dir, err := env.ConfigDir()
	if err != nil {
		return nil, fmt.Errorf("no config folder to keep your login in: %w", err)
	}
	st := newStore(dir)
	creds, err := st.load()
	if err != nil {
		return nil, err
	}
	c := &call{ctx: ctx, env: env, out: env.Stdout, store: st}
	flagURL, err := config.ServerURL(g.url)
	if err != nil {
		return nil, fmt.Errorf("--url %w", err)
	}
	c.url = firstOf(flagURL, cfg.ClientURL, creds.Current, config.DefaultClientURL)
	if l, ok := creds.Servers[c.url]; ok {
		c.saved = &l
	}
	token := cfg.ClientToken
	if token == "" && c.saved != nil {
		token = c.saved.Token
	}
	if needToken && token == "" {
		return nil, fmt.Errorf("not logged in to %s: run `tenantry login --email EMAIL` (or set %s)", c.url, config.ClientTokenEnv)
	}
	c.client = client.New(c.url, token)
	return c, nil
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// print writes v as indented JSON with --output json, else as text.
func (c *call) print(v any, text func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(c.out)
	return nil
}

// readSecret reads a password from file ("-" is standard input; a final
// newline is dropped) or, without one, asks for it on the terminal
// without echo (twice when confirm).
func (c *call) readSecret(file, prompt string, confirm bool) (string, error) {
	if file != "" {
		var b []byte
		var err error
		if file == "-" {
			b, err = io.ReadAll(io.LimitReader(c.env.Stdin, 1<<16))
		} else {
			b, err = os.ReadFile(file)
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	pw, err := askSecret(c.env.Stdin, c.env.Stderr, prompt)
	if err != nil || !confirm {
		return pw, err
	}
	again, err := askSecret(c.env.Stdin, c.env.Stderr, "Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

// exactArgs is cobra.ExactArgs naming what the arguments are.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			// The full path: "tokens revoke", not "revoke".
			return fmt.Errorf("%s takes %s (see %s --help)", cmd.Name(), strings.Join(names, " "), cmd.CommandPath())
		}
		return nil
	}
}
