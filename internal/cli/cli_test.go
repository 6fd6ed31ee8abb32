package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/cli"
	"tenantry/internal/config"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

// fakeAPI is a stand-in for the JSON API: logins answer a token naming the
// server, and every request's bearer token is recorded.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	bearer []string
	// progress answers GET /api/instances/i1 in turn (the last one stays).
	progress []platform.Instance
}

func newFakeAPI(t *testing.T, name string) *fakeAPI {
	f := &fakeAPI{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(platform.LoginToken{Token: "tnt_" + name, AccountID: "acct-" + name, ExpiresAt: time.Now().Add(time.Hour)})
	})
	mux.HandleFunc("GET /api/instances", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		_, _ = w.Write([]byte(`{"instances": []}`))
	})
	mux.HandleFunc("GET /api/instances/i1", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		v := f.progress[0]
		if len(f.progress) > 1 {
			f.progress = f.progress[1:]
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(v)
	})
	mux.HandleFunc("POST /api/instances/i1/enable", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id": "i1", "workflow_id": "disable/i1"}`))
	})
	mux.HandleFunc("GET /api/catalog", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	})
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		w.WriteHeader(http.StatusNoContent)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) record(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bearer = append(f.bearer, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
}

func (f *fakeAPI) lastBearer() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bearer) == 0 {
		return ""
	}
	return f.bearer[len(f.bearer)-1]
}

// user is one person's config folder and environment.
type user struct {
	t       *testing.T
	dir     string
	environ []string
	stdin   string
}

// run runs a client command in this process; it returns stdout, stderr
// and the exit code the tenantry command would give.
func (u *user) run(args ...string) (string, string, int) {
	u.t.Helper()
	var out, errOut bytes.Buffer
	env := &cli.Env{
		Config: func() (config.Config, error) {
			return config.Load(append([]string{"TEMPORAL_CONFIG_FILE=" + filepath.Join(u.dir, "none.toml")}, u.environ...))
		},
		Stdin: strings.NewReader(u.stdin), Stdout: &out, Stderr: &errOut,
		ConfigDir: func() (string, error) { return u.dir, nil },
	}
	root := &cobra.Command{Use: "tenantry", SilenceErrors: true, SilenceUsage: true}
	root.AddGroup(&cobra.Group{ID: cli.GroupID, Title: "client"})
	root.AddCommand(cli.Commands(env)...)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil && errOut.Len() == 0 {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), cli.ExitCode(err)
}

func (u *user) ok(args ...string) string {
	u.t.Helper()
	out, errOut, code := u.run(args...)
	if code != 0 {
		u.t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

func newUser(t *testing.T) *user {
	return &user{t: t, dir: t.TempDir(), stdin: "a password\n"}
}

// A token is saved per server; the last login's server is the default,
// --url and TENANTRY_URL pick another, TENANTRY_TOKEN overrides the saved
// token, and logout forgets only its server's token.
func TestTokensSavedPerServer(t *testing.T) {
	one, two := newFakeAPI(t, "one"), newFakeAPI(t, "two")
	u := newUser(t)
	u.ok("login", "--url", one.URL, "--email", "ada@acme.test", "--password-file", "-")
	u.ok("login", "--url", two.URL+"/", "--email", "ada@acme.test", "--password-file", "-")

	file := filepath.Join(u.dir, "tenantry", cli.CredentialsFile)
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials: %v %v", st, err)
	}
	if st, err := os.Stat(filepath.Dir(file)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("credentials folder: %v %v", st, err)
	}

	u.ok("instances")
	if got := two.lastBearer(); got != "tnt_two" {
		t.Fatalf("the last login's server got token %q", got)
	}
	u.ok("instances", "--url", one.URL)
	if got := one.lastBearer(); got != "tnt_one" {
		t.Fatalf("--url: token %q", got)
	}
	u.environ = []string{"TENANTRY_URL=" + one.URL, "TENANTRY_TOKEN=tpat_override"}
	u.ok("instances")
	if got := one.lastBearer(); got != "tpat_override" {
		t.Fatalf("TENANTRY_TOKEN: token %q", got)
	}
	if _, errOut, code := u.run("logout"); code != 1 || !strings.Contains(errOut, "API token") {
		t.Fatalf("logout with an API token: %d %s", code, errOut)
	}

	u.environ = []string{"TENANTRY_URL=" + one.URL}
	u.ok("logout")
	if got := one.lastBearer(); got != "tnt_one" {
		t.Fatalf("logout revoked %q", got)
	}
	if _, errOut, code := u.run("instances"); code != 1 || !strings.Contains(errOut, "not logged in to "+one.URL) {
		t.Fatalf("after logout: %d %s", code, errOut)
	}
	u.environ = nil
	u.ok("instances")
	if got := two.lastBearer(); got != "tnt_two" {
		t.Fatalf("the other server's token went with the logout: %q", got)
	}
}

// An answer that is not the API's JSON still gives the status; bad flags
// and arguments exit 2, failures 1.
func TestErrorsAndExitCodes(t *testing.T) {
	api := newFakeAPI(t, "one")
	u := newUser(t)
	u.environ = []string{"TENANTRY_URL=" + api.URL}
	if _, errOut, code := u.run("catalog"); code != 1 || !strings.Contains(errOut, "502 Bad Gateway") {
		t.Fatalf("catalog: %d %q", code, errOut)
	}
	if _, errOut, code := u.run("catalog", "-o", "json"); code != 1 || !strings.Contains(errOut, `"status":502`) {
		t.Fatalf("catalog -o json: %d %q", code, errOut)
	}
	for _, args := range [][]string{{"instance"}, {"disable", "a", "b"}, {"catalog", "--nope"}, {"catalog", "-o", "yaml"}} {
		if _, _, code := u.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	u.environ = []string{"TENANTRY_URL=not a url"}
	if _, errOut, code := u.run("catalog"); code != 1 || !strings.Contains(errOut, "TENANTRY_URL") {
		t.Fatalf("a bad TENANTRY_URL: %d %q", code, errOut)
	}
	u.environ = nil
	if _, errOut, code := u.run("login", "--url", api.URL, "--email", "ada@acme.test"); code != 1 || !strings.Contains(errOut, "--password-file") {
		t.Fatalf("no terminal for the password: %d %q", code, errOut)
	}
}

// Off a terminal, --wait prints each step once per state it reaches and
// stops at the setup with the command that sends it.
func TestWaitShowsEachStepOnce(t *testing.T) {
	api := newFakeAPI(t, "one")
	at := func(states ...workflows.StepState) platform.Instance {
		titles := []string{"Check the request", "Create the database", "Wait for the setup page"}
		names := []string{workflows.EnableStepValidate, workflows.EnableStepDatabase, workflows.EnableStepSetup}
		p := &workflows.Progress{Status: workflows.StatusRunning}
		for i, s := range states {
			p.Steps = append(p.Steps, workflows.Step{Name: names[i], Title: titles[i], State: s})
		}
		return platform.Instance{ID: "i1", Status: "provisioning", Workflows: []platform.InstanceWorkflow{{Kind: platform.KindEnable, Progress: p}}}
	}
	api.progress = []platform.Instance{
		at(workflows.StepRunning, workflows.StepPending, workflows.StepPending),
		at(workflows.StepRunning, workflows.StepPending, workflows.StepPending),
		at(workflows.StepDone, workflows.StepRunning, workflows.StepPending),
		at(workflows.StepDone, workflows.StepDone, workflows.StepWaiting),
	}
	u := newUser(t)
	u.environ = []string{"TENANTRY_URL=" + api.URL, "TENANTRY_TOKEN=tnt_x"}
	out := u.ok("instance", "i1", "--wait")
	want := []string{"> Check the request", "✓ Check the request", "> Create the database", "✓ Create the database",
		"… Wait for the setup page", "Provisioning waits for the setup page", "tenantry setup i1 --admin-email"}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %q, want %q", i, lines[i], w)
		}
	}

	api.progress = []platform.Instance{{ID: "i1", Status: "failed", FailureReason: "the host is taken"}}
	if _, errOut, code := u.run("instance", "i1", "--wait"); code != 1 || !strings.Contains(errOut, "the host is taken") {
		t.Fatalf("failed: %d %q", code, errOut)
	}
}

// enable-again --wait shows the disabling's steps as the re-enable
// replaces the rest, until the instance is ready again; a re-enable that
// fails is an error with its reason.
func TestEnableAgainWaitsUntilReady(t *testing.T) {
	api := newFakeAPI(t, "one")
	at := func(status string, reenable workflows.StepState, p workflows.Status) platform.Instance {
		pr := &workflows.Progress{Status: p, Steps: []workflows.Step{
			{Name: workflows.DisableStepDisable, Title: "Take the host offline and stop billing", State: workflows.StepDone},
			{Name: workflows.DisableStepReenable, Title: "Bring it back with its data", State: reenable},
		}}
		return platform.Instance{ID: "i1", Status: status, Host: "acme.localhost",
			Workflows: []platform.InstanceWorkflow{{Kind: platform.KindDisable, Progress: pr}}}
	}
	api.progress = []platform.Instance{
		at("disabled", workflows.StepRunning, workflows.StatusRunning),
		at("ready", workflows.StepDone, workflows.StatusCompleted),
	}
	u := newUser(t)
	u.environ = []string{"TENANTRY_URL=" + api.URL, "TENANTRY_TOKEN=tnt_x"}
	out := u.ok("enable-again", "i1", "--wait")
	for _, want := range []string{"✓ Take the host offline and stop billing", "> Bring it back with its data", "✓ Bring it back with its data",
		"Ready again: i1 answers at acme.localhost with its data."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	failed := at("disabled", workflows.StepFailed, workflows.StatusFailed)
	failed.Workflows[0].Progress.Error = "the host is taken again"
	api.progress = []platform.Instance{failed}
	if _, errOut, code := u.run("enable-again", "i1", "--wait"); code != 1 || !strings.Contains(errOut, "enabling i1 again failed: the host is taken again") {
		t.Fatalf("failed: %d %q", code, errOut)
	}
}
