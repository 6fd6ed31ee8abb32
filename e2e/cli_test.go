package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tenantry/internal/client"
	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
)

// tenantryCLI runs the built tenantry binary as a user would: its own
// config folder, the environment it is given, nothing else of the test's.
type tenantryCLI struct {
	t   *testing.T
	bin string
	env []string
}

// run runs the binary with extra environment entries ("KEY=value") and
// returns its output and exit code.
func (c *tenantryCLI) run(extraEnv []string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(slices.Clone(c.env), extraEnv...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		c.t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// background is a command left running, its output's lines in a channel.
type background struct {
	cmd   *exec.Cmd
	lines chan string
}

// start starts a command that runs until it is interrupted.
func (c *tenantryCLI) start(args ...string) *background {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	b := &background{cmd: cmd, lines: make(chan string, 1000)}
	c.t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	return b
}

// waitFor reads JSON log lines until one satisfies want.
func (b *background) waitFor(t *testing.T, within time.Duration, want func(controldb.LogLine) bool) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case line, ok := <-b.lines:
			if !ok {
				t.Fatal("the command ended before the line came")
			}
			var l controldb.LogLine
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("not a JSON log line: %q", line)
			}
			if want(l) {
				return
			}
		case <-deadline:
			t.Fatalf("no such line within %s", within)
		}
	}
}

// interrupt sends Ctrl-C and returns the exit code.
func (b *background) interrupt(t *testing.T) int {
	t.Helper()
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range b.lines {
	}
	err := b.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// ok runs a command that must succeed and returns its standard output.
func (c *tenantryCLI) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(nil, args...)
	if code != 0 {
		c.t.Fatalf("tenantry %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs a command with --output json and decodes its answer.
func (c *tenantryCLI) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("tenantry %s --output json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must fail with code and the API's message.
func (c *tenantryCLI) fails(extraEnv []string, code int, message string, args ...string) {
	c.t.Helper()
	out, errOut, got := c.run(extraEnv, args...)
	if got != code || !strings.Contains(errOut, message) {
		c.t.Fatalf("tenantry %s: exit %d, stderr %q (stdout %q); want exit %d and %q", strings.Join(args, " "), got, errOut, out, code, message)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommandLine drives the built tenantry binary against the real stack:
// signup, login (the token saved 0600 per server), enable --wait up to the
// setup, setup from a password file, enable --wait with the setup, modules,
// billing, invoices, API tokens, the instance's log (followed live),
// disable and enable again, logout; every
// error with exit code 1 and the API's own message, flag mistakes with 2,
// JSON output that parses, --help on every command.
func TestCommandLine(t *testing.T) {
	start := time.Now()
	bin := buildTenantry(t)
	t.Logf("built in %s", time.Since(start).Round(time.Millisecond))
	s, _ := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour, BillingPeriod: 10 * time.Second}})
	ctx := context.Background()
	home := t.TempDir()
	cli := &tenantryCLI{t: t, bin: bin, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "TEMPORAL_CONFIG_FILE=" + filepath.Join(home, "none.toml")}}
	password := writeFile(t, "password", "correct horse battery\n")
	adminPassword := writeFile(t, "admin-password", "a long admin secret")

	// Sign up and log in; the token is saved for the server, readable by
	// the user only, and the server becomes the default.
	var signup platform.SignupResult
	cli.json(&signup, "signup", "--url", s.URL, "--email", "ada@acme.test", "--name", "Ada", "--account-name", "Acme",
		"--password-file", password)
	if signup.AccountID == "" || signup.Email != "ada@acme.test" {
		t.Fatalf("signup: %+v", signup)
	}
	cli.fails(nil, 1, apiMessage(t, func() error {
		_, err := client.New(s.URL, "").Signup(ctx, platform.SignupInput{Email: "ada@acme.test", Name: "Ada", Password: "correct horse battery"})
		return err
	}), "signup", "--url", s.URL, "--email", "ada@acme.test", "--name", "Ada", "--password-file", password)
	cli.fails(nil, 1, "you do not belong to account", "login", "--url", s.URL, "--email", "ada@acme.test",
		"--account", "00000000-0000-0000-0000-000000000001", "--password-file", password)
	if out := cli.ok("login", "--url", s.URL, "--email", "ada@acme.test", "--account", signup.AccountID,
		"--password-file", password); !strings.Contains(out, "Logged in to "+s.URL) {
		t.Fatalf("login: %s", out)
	}
	credentials := filepath.Join(home, "config", "tenantry", "credentials.json")
	st, err := os.Stat(credentials)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	var saved struct {
		Current string
		Servers map[string]struct {
			Token     string `json:"token"`
			AccountID string `json:"account_id"`
		}
	}
	raw, _ := os.ReadFile(credentials)
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Current != s.URL ||
		!strings.HasPrefix(saved.Servers[s.URL].Token, platform.LoginTokenPrefix) || saved.Servers[s.URL].AccountID != signup.AccountID {
		t.Fatalf("saved credentials: %s %v", raw, err)
	}
	loginToken := saved.Servers[s.URL].Token

	// From here on no --url: the saved server and token.
	var catalog []platform.CatalogService
	cli.json(&catalog, "catalog")
	if len(catalog) < 2 || !strings.Contains(cli.ok("catalog"), "search") {
		t.Fatalf("catalog: %+v", catalog)
	}

	// enable --wait follows the steps and stops where the setup is
	// needed, saying how to send it.
	out := cli.ok("enable", "forum", "--modules", "search,moderation", "--host", "acme-cli.localhost", "--wait")
	var list []platform.Instance
	cli.json(&list, "instances")
	if len(list) != 1 || list[0].Host != "acme-cli.localhost" {
		t.Fatalf("instances: %+v", list)
	}
	forum := list[0].ID
	if !strings.Contains(out, "✓ Create the database and its role") || !strings.Contains(out, "… Wait for the setup page") ||
		!strings.Contains(out, "tenantry setup "+forum+" --admin-email") {
		t.Fatalf("enable --wait:\n%s", out)
	}
	t.Logf("tenantry enable --wait:\n%s", out)
	// The setup's password from a file; --wait follows it to ready.
	out = cli.ok("setup", forum, "--admin-email", "admin@acme.test", "--admin-name", "Admin", "--language", "de",
		"--password-file", adminPassword, "--wait")
	if !strings.Contains(out, "✓ Create the tables and seed the admin user") || !strings.Contains(out, "Ready: "+forum) {
		t.Fatalf("setup --wait:\n%s", out)
	}
	t.Logf("tenantry setup --wait:\n%s", out)
	// enable --wait with the setup given goes through to ready.
	var store platform.Instance
	cli.json(&store, "enable", "store", "--host", "acme-cli-store.localhost", "--admin-email", "admin@acme.test",
		"--admin-name", "Admin", "--password-file", adminPassword, "--wait")
	if store.Status != "ready" || !store.Routed {
		t.Fatalf("enable --wait with setup: %+v", store)
	}

	// Errors: the API's message and exit 1, as text or as JSON.
	bad := platform.EnableInput{Service: "wiki", Host: "acme-wiki.localhost", Modules: []string{}}
	badMessage := apiMessage(t, func() error { _, err := client.New(s.URL, loginToken).Enable(ctx, bad); return err })
	_, errOut, code := cli.run(nil, "enable", "wiki", "--host", "acme-wiki.localhost")
	if code != 1 || errOut != "tenantry: "+badMessage+"\n" {
		t.Fatalf("enable wiki: exit %d, stderr %q, want 1 and the API's %q", code, errOut, badMessage)
	}
	_, errOut, code = cli.run(nil, "enable", "wiki", "--host", "acme-wiki.localhost", "--output", "json")
	var jsonErr client.Error
	if code != 1 || json.Unmarshal([]byte(errOut), &jsonErr) != nil || jsonErr.Status != 422 || jsonErr.Message != badMessage {
		t.Fatalf("enable wiki --output json: exit %d, stderr %q", code, errOut)
	}
	cli.fails(nil, 1, "no instance", "instance", "00000000-0000-0000-0000-000000000001")
	// Mistakes in the command line itself: exit 2.
	cli.fails(nil, 2, "unknown flag: --bogus", "enable", "forum", "--bogus")
	cli.fails(nil, 2, `required flag(s) "host" not set`, "enable", "forum")
	cli.fails(nil, 2, "unknown command", "frobnicate")

	// Modules: billing switches now.
	if out := cli.ok("modules", forum, "--set", "search,attachments"); !strings.Contains(out, "added: attachments; removed: moderation") {
		t.Fatalf("modules: %s", out)
	}
	eventually(t, 20*time.Second, "the modules to change", func() bool {
		var v platform.Instance
		cli.json(&v, "instance", forum)
		return slices.Equal(v.Modules, []string{"core", "search", "attachments"})
	})

	// Billing: this period so far and the projection.
	var now platform.BillingNow
	cli.json(&now, "billing")
	if len(now.Usage) == 0 || now.Period.End.Sub(now.Period.Start) != 10*time.Second {
		t.Fatalf("billing: %+v", now)
	}
	if out := cli.ok("billing"); !strings.Contains(out, "So far:") || !strings.Contains(out, "Projected:") ||
		!strings.Contains(out, "acme-cli.localhost") {
		t.Fatalf("billing:\n%s", out)
	}
	// Ten-second periods: invoices come quickly.
	var invoices []struct {
		ID         string `json:"id"`
		Lines      int    `json:"lines"`
		TotalMinor int64  `json:"total_minor"`
	}
	testenv.Eventually(t, 60*time.Second, 500*time.Millisecond, "an invoice with lines", func() bool {
		cli.json(&invoices, "invoices")
		return len(invoices) > 0 && invoices[0].Lines > 0
	})
	inv := invoices[0]
	t.Logf("first invoice after %s", time.Since(start).Round(time.Millisecond))
	if out := cli.ok("invoices"); !strings.Contains(out, inv.ID) {
		t.Fatalf("invoices:\n%s", out)
	}
	var one client.Invoice
	cli.json(&one, "invoice", inv.ID)
	if len(one.Lines) != inv.Lines || one.Invoice.TotalMinor != inv.TotalMinor {
		t.Fatalf("invoice %+v, listed %+v", one, inv)
	}
	if out := cli.ok("invoice", inv.ID); !strings.Contains(out, one.Lines[0].Explanation) || !strings.Contains(out, "Subtotal") {
		t.Fatalf("invoice:\n%s", out)
	}
	csv := cli.ok("invoice", inv.ID, "--csv")
	if rows := strings.Split(strings.TrimSpace(csv), "\n"); len(rows) != 1+inv.Lines+3 || !strings.HasPrefix(rows[0], "position,kind,") {
		t.Fatalf("invoice --csv:\n%s", csv)
	}

	// The team: a member invited (their one-time password shown once),
	// re-roled, removed; the last owner stays.
	var invited platform.Invited
	cli.json(&invited, "team", "invite", "--email", "grace@acme.test", "--name", "Grace")
	if invited.Password == "" || invited.Existing {
		t.Fatalf("team invite: %+v", invited)
	}
	cli.ok("team", "role", invited.UserID, "billing")
	if out := cli.ok("team", "list"); !strings.Contains(out, "grace@acme.test") || !strings.Contains(out, "billing") {
		t.Fatalf("team list:\n%s", out)
	}
	cli.fails(nil, 1, `role "admiral"`, "team", "role", invited.UserID, "admiral")
	cli.ok("team", "remove", invited.UserID)
	var members []platform.Member
	cli.json(&members, "team", "list")
	if len(members) != 1 || members[0].Email != "ada@acme.test" {
		t.Fatalf("team after removal: %+v", members)
	}
	cli.fails(nil, 1, "needs an owner", "team", "remove", members[0].UserID)
	cli.fails(nil, 2, "remove takes USER_ID (see tenantry team remove --help)", "team", "remove")

	// API tokens: made, used as TENANTRY_TOKEN within their scope, listed,
	// revoked and refused at once.
	var issued platform.IssuedAPIToken
	cli.json(&issued, "tokens", "create", "--name", "ci", "--permission", "instances.read", "--expires-in-days", "7")
	if !strings.HasPrefix(issued.Token, platform.APITokenPrefix) || issued.ExpiresAt == nil {
		t.Fatalf("tokens create: %+v", issued)
	}
	withToken := []string{"TENANTRY_TOKEN=" + issued.Token}
	if out, errOut, code := cli.run(withToken, "instances"); code != 0 || !strings.Contains(out, forum) {
		t.Fatalf("instances with the API token: exit %d %s %s", code, out, errOut)
	}
	forbidden := apiMessage(t, func() error { _, err := client.New(s.URL, issued.Token).Disable(ctx, forum); return err })
	cli.fails(withToken, 1, forbidden, "disable", forum)
	cli.fails(withToken, 1, "API token", "logout")
	var tokens client.Tokens
	cli.json(&tokens, "tokens", "list")
	if len(tokens.Tokens) != 1 || tokens.Tokens[0].ID != issued.ID || tokens.Tokens[0].State != "active" {
		t.Fatalf("tokens list: %+v", tokens)
	}
	cli.ok("tokens", "revoke", issued.ID)
	// Refused once the web process has the revoke's NOTIFY (at once).
	testenv.Eventually(t, 2*time.Second, 20*time.Millisecond, "the revoked token to be refused", func() bool {
		_, errOut, code := cli.run(withToken, "instances")
		return code == 1 && errOut == "tenantry: "+platform.ErrBadToken.Error()+"\n"
	})
	cli.fails(nil, 1, "no token", "tokens", "revoke", "00000000-0000-0000-0000-000000000001")

	// The instance's own log: its events so far, then followed live.
	if out := cli.ok("logs", forum); !strings.Contains(out, "instance.ready") || !strings.Contains(out, "instance.seeded language=de") {
		t.Fatalf("logs:\n%s", out)
	}
	var page platform.LogPage
	cli.json(&page, "logs", forum, "--since", "1h", "--limit", "1000")
	if len(page.Lines) == 0 || page.Next != page.Lines[len(page.Lines)-1].ID {
		t.Fatalf("logs --output json: %+v", page)
	}
	follow := cli.start("logs", forum, "--follow", "--output", "json")

	// Disable and enable again.
	if out := cli.ok("disable", forum); !strings.Contains(out, "Its data is kept for 1h0m0s") {
		t.Fatalf("disable: %s", out)
	}
	follow.waitFor(t, 20*time.Second, func(l controldb.LogLine) bool { return l.Event == "instance.disabled" })
	if code := follow.interrupt(t); code != 0 {
		t.Fatalf("logs --follow ended with %d on Ctrl-C", code)
	}
	eventually(t, 20*time.Second, "the forum to be disabled", func() bool {
		var v platform.Instance
		cli.json(&v, "instance", forum)
		return v.Status == "disabled"
	})
	if out := cli.ok("enable-again", forum, "--wait"); !strings.Contains(out, "Ready again: "+forum) {
		t.Fatalf("enable-again --wait: %s", out)
	}
	var again platform.Instance
	cli.json(&again, "instance", forum)
	if again.Status != "ready" {
		t.Fatalf("after enable-again --wait the forum is %s", again.Status)
	}

	// Logout revokes the token on the server and forgets it.
	if out := cli.ok("logout"); !strings.Contains(out, "the token is revoked") {
		t.Fatalf("logout: %s", out)
	}
	if _, err := client.New(s.URL, loginToken).Instances(ctx); client.StatusOf(err) != 401 {
		t.Fatalf("the logged-out token still works: %v", err)
	}
	raw, _ = os.ReadFile(credentials)
	if strings.Contains(string(raw), loginToken) {
		t.Fatalf("the token is still saved: %s", raw)
	}
	cli.fails(nil, 1, "not logged in to "+s.URL, "instances")

	// --help on every command.
	for _, args := range [][]string{{}, {"dev"}, {"worker"}, {"web"}, {"router"}, {"grant"}, {"signup"}, {"login"},
		{"logout"}, {"catalog"}, {"instances"}, {"instance"}, {"enable"}, {"setup"}, {"modules"}, {"disable"},
		{"enable-again"}, {"logs"}, {"billing"}, {"invoices"}, {"invoice"}, {"tokens"}, {"tokens", "create"},
		{"tokens", "list"}, {"tokens", "revoke"}} {
		if out := cli.ok(append(args, "--help")...); !strings.Contains(out, "Usage:") {
			t.Errorf("tenantry %v --help:\n%s", args, out)
		}
	}
}

// apiMessage is the message the API answers a call that must fail with.
func apiMessage(t *testing.T, call func() error) string {
	t.Helper()
	err := call()
	var e *client.Error
	if !errors.As(err, &e) || e.Message == "" {
		t.Fatalf("want an API error, got %v", err)
	}
	return e.Message
}
