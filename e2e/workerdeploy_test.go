package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/internal/config"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
	"tenantry/worker"
	"tenantry/workflows"
)

// workerVersion is one version as GET /api/ops/workers answers it.
type workerVersion struct {
	BuildID    string `json:"build_id"`
	Status     string `json:"status"`
	OpenPinned int64  `json:"open_pinned"`
	MayStop    bool   `json:"may_stop"`
	Stranded   bool   `json:"stranded"`
	Pollers    []struct {
		Identity string `json:"identity"`
		Kind     string `json:"kind"`
	} `json:"pollers"`
	Processes []struct {
		Build string `json:"build"`
	} `json:"processes"`
	SetCurrent string   `json:"set_current_command"`
	TaskQueues []string `json:"task_queues"`
}

// versionOf reads one build's version of the tenantry deployment (ok false
// while the deployment does not list it).
func versionOf(a *api, build string) (v workerVersion, current string, ok bool) {
	var got struct {
		Deployments []struct {
			Name     string          `json:"name"`
			Current  string          `json:"current"`
			Versions []workerVersion `json:"versions"`
		} `json:"deployments"`
	}
	a.must(http.StatusOK, "GET", "/ops/workers", nil, &got)
	for _, d := range got.Deployments {
		if d.Name != worker.DeploymentName {
			continue
		}
		for _, v := range d.Versions {
			if v.BuildID == build {
				return v, d.Current, true
			}
		}
	}
	return v, "", false
}

// TestShippingANewWorkerBuild ships a worker build on the real dev server
// with two `tenantry worker` processes of builds A and B beside a web
// process: an enable started on A waits for its setup page; B starts
// beside A, ramps, and a developer makes it current from the console; new
// enables run on B; the waiting one completes on A once its setup
// arrives; the account's billing cycle (auto-upgrade) moves to B at its
// next task; A then reports drained and may stop, and stopping it loses
// nothing.
func TestShippingANewWorkerBuild(t *testing.T) {
	ctx := context.Background()
	cfg := stackEnv(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}})
	bin := buildTenantry(t)
	stopA := startBuildWorker(t, bin, cfg, "build-a")

	cfg.Listen, cfg.BuildID = "127.0.0.1:0", "web"
	web, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(web.Stop)
	dev := signupAndLogin(t, web.URL, "dev@tenantry.test")
	if _, err := web.Platform.BootstrapPlatformRole(ctx, "dev@tenantry.test", "developer"); err != nil {
		t.Fatal(err)
	}
	ada := signupAndLogin(t, web.URL, "ada@acme.test")
	ada.must(http.StatusForbidden, "GET", "/ops/workers", nil, nil)

	// The first build made itself current.
	a, current, ok := versionOf(dev, "build-a")
	if !ok || current != "build-a" || a.Status != worker.StatusCurrent || len(a.Pollers) == 0 || len(a.Processes) != 1 {
		t.Fatalf("build A at start: %+v current %q", a, current)
	}

	// An enable on A waits for its setup page.
	waiting := enableWaitingForSetup(t, ada, "acme-a.localhost")
	ranOn(t, web, workflows.EnableID(waiting.ID), "build-a", enums.VERSIONING_BEHAVIOR_PINNED)
	var accountID string
	if err := web.DB.QueryRow(ctx, `SELECT account_id::text FROM instances WHERE id = $1`, waiting.ID).Scan(&accountID); err != nil {
		t.Fatal(err)
	}
	ranOn(t, web, workflows.BillingCycleID(accountID), "build-a", enums.VERSIONING_BEHAVIOR_AUTO_UPGRADE)

	// B starts beside A: a new version that gets nothing yet.
	startBuildWorker(t, bin, cfg, "build-b")
	var b workerVersion
	eventually(t, 30*time.Second, "build B to show with its pollers on every task queue of A", func() bool {
		b, _, ok = versionOf(dev, "build-b")
		return ok && len(b.Pollers) > 0 && slices.Equal(b.TaskQueues, a.TaskQueues)
	})
	if b.Status != worker.StatusInactive || len(b.Processes) != 1 {
		t.Fatalf("build B before it ramps: %+v", b)
	}
	ramp := func(pct any) map[string]any { return map[string]any{"percentage": pct} }
	dev.must(http.StatusUnprocessableEntity, "POST", "/ops/workers/tenantry/versions/build-b/ramp", ramp(150), nil)
	dev.must(http.StatusUnprocessableEntity, "POST", "/ops/workers/tenantry/versions/build-b/ramp", map[string]any{}, nil)
	ada.must(http.StatusForbidden, "POST", "/ops/workers/tenantry/versions/build-b/current", nil, nil)
	dev.must(http.StatusNotFound, "POST", "/ops/workers/tenantry/versions/no-such-build/current", nil, nil)
	dev.must(http.StatusOK, "POST", "/ops/workers/tenantry/versions/build-b/ramp", ramp(25), nil)
	if b, _, _ = versionOf(dev, "build-b"); b.Status != worker.StatusRamping {
		var raw json.RawMessage
		dev.must(http.StatusOK, "GET", "/ops/workers", nil, &raw)
		t.Fatalf("build B after the ramp: %+v\n%s", b, raw)
	}

	// A developer makes B current from the console's Workers page, which
	// shows the command that does the same.
	k := consoleSession(t, web.URL, "dev@tenantry.test", "correct horse battery")
	page := k.get("/dev/workers")
	for _, want := range []string{`id="version-build-a"`, `id="version-build-b"`, "ramping",
		"go tool temporal worker deployment set-current-version --deployment-name tenantry --build-id build-b",
		"go tool temporal worker deployment set-ramping-version --deployment-name tenantry --build-id build-b"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the Workers page lacks %q:\n%s", want, page)
		}
	}
	k.post("/dev/workers/tenantry/versions/build-b/current", nil, http.StatusOK)
	a, current, _ = versionOf(dev, "build-a")
	if current != "build-b" || a.Status != worker.StatusDraining || a.OpenPinned != 1 || a.MayStop {
		t.Fatalf("build A once B is current: %+v current %q", a, current)
	}

	// New enables run on B.
	var onB instance
	ada.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "forum", "host": "acme-b.localhost",
		"setup": map[string]string{"admin_email": "admin@acme.test", "admin_name": "Admin",
			"admin_password": "a long admin secret", "language": "en"}}, &onB)
	waitStatus(t, ada, "/instances/"+onB.ID, "ready")
	ranOn(t, web, workflows.EnableID(onB.ID), "build-b", enums.VERSIONING_BEHAVIOR_PINNED)

	// The auto-upgrade billing cycle moves to B at its next task (a
	// signal gives it one).
	if err := web.Temporal.SignalWorkflow(ctx, workflows.BillingCycleID(accountID), "", workflows.RetryCloseSignal, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the billing cycle to move to B", func() bool {
		return versioning(t, web, workflows.BillingCycleID(accountID)) == "build-b"
	})

	// The waiting enable finishes on A once its setup arrives.
	ada.must(http.StatusAccepted, "POST", "/instances/"+waiting.ID+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"}, nil)
	waitStatus(t, ada, "/instances/"+waiting.ID, "ready")
	closed := time.Now()
	ranOn(t, web, workflows.EnableID(waiting.ID), "build-a", enums.VERSIONING_BEHAVIOR_PINNED)
	recordRun(t, web, "enable_pinned_build_a", workflows.EnableID(waiting.ID), "")

	// A drains: its last pinned workflow closed, so it may stop.
	eventually(t, 60*time.Second, "build A to show drained", func() bool {
		a, _, _ = versionOf(dev, "build-a")
		return a.Status == worker.StatusDrained
	})
	t.Logf("build A showed drained %s after its last pinned workflow closed", time.Since(closed).Round(100*time.Millisecond))
	if !a.MayStop || a.OpenPinned != 0 {
		t.Fatalf("drained build A: %+v", a)
	}
	if page := k.get("/dev/workers"); !strings.Contains(page, "Its workers may stop") {
		t.Fatalf("the Workers page does not say A's workers may stop:\n%s", page)
	}

	// Stopping A loses nothing: every workflow is done or running on B,
	// and provisioning goes on.
	stopA()
	var after instance
	ada.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "store", "host": "acme-store.localhost",
		"setup": map[string]string{"admin_email": "admin@acme.test", "admin_name": "Admin",
			"admin_password": "a long admin secret", "language": "en"}}, &after)
	waitStatus(t, ada, "/instances/"+after.ID, "ready")
	ranOn(t, web, workflows.EnableID(after.ID), "build-b", enums.VERSIONING_BEHAVIOR_PINNED)
	resp, err := web.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "ExecutionStatus != 'Completed' AND ExecutionStatus != 'ContinuedAsNew'"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		if e.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("%s ended %s", id, e.GetStatus())
			continue
		}
		d, err := web.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		info := d.GetWorkflowExecutionInfo().GetVersioningInfo()
		switch {
		case info.GetDeploymentVersion().GetBuildId() == "build-b":
		case info.GetBehavior() == enums.VERSIONING_BEHAVIOR_AUTO_UPGRADE && strings.HasPrefix(id, "billing/"):
			// A cycle asleep since before B became current moves at its
			// next task, with A gone.
			if err := web.Temporal.SignalWorkflow(ctx, id, "", workflows.RetryCloseSignal, nil); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, id+" to move to B", func() bool { return versioning(t, web, id) == "build-b" })
		default:
			t.Errorf("%s runs %s on %q after A stopped", id, info.GetBehavior(), info.GetDeploymentVersion().GetBuildId())
		}
	}
	for _, id := range []string{waiting.ID, onB.ID, after.ID} {
		var inst instance
		ada.must(http.StatusOK, "GET", "/instances/"+id, nil, &inst)
		if inst.Status != "ready" {
			t.Errorf("instance %s is %s", id, inst.Status)
		}
	}
}

// stackEnv fills cfg with what a stack runs on, a Temporal dev server
// and a control database, for its parts to join.
func stackEnv(t *testing.T, cfg stack.Config) stack.Config {
	t.Helper()
	control := testenv.NewControl(t)
	cfg.DatabaseURL, cfg.TenantServerURL, cfg.SecretKey = control.URL, testenv.ServerURL(t), secret.NewKey()
	cfg.Temporal.HostPort = devServer(t)
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

// startBuildWorker runs `tenantry worker` of a build on cfg's stack and
// waits until it says it runs; stop ends it (SIGTERM, then its exit), as
// the test's end does.
func startBuildWorker(t *testing.T, bin string, cfg stack.Config, build string) (stop func()) {
	t.Helper()
	return startKillableWorker(t, bin, cfg, build).stop
}

// workerProcess is a running `tenantry worker`: stop ends it as an
// operator does (SIGTERM), kill as a crash does (SIGKILL: no cleanup at
// all); each returns once it exited, and only the first of them acts.
type workerProcess struct{ stop, kill func() }

// startKillableWorker is startBuildWorker that can also kill the worker.
func startKillableWorker(t *testing.T, bin string, cfg stack.Config, build string) workerProcess {
	t.Helper()
	cmd := tenantryProcess(bin, "worker", cfg, config.BuildIDEnv+"="+build)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "worker of build "+build) {
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	end := func(sig syscall.Signal) func() {
		return func() {
			once.Do(func() {
				_ = cmd.Process.Signal(sig)
				<-exited
			})
		}
	}
	p := workerProcess{stop: end(syscall.SIGTERM), kill: end(syscall.SIGKILL)}
	t.Cleanup(p.stop)
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("tenantry worker %s exited before it was ready", build)
	case <-time.After(60 * time.Second):
		t.Fatalf("tenantry worker %s did not start", build)
	}
	return p
}

// enableWaitingForSetup enables a forum without its setup and waits until
// the provisioning waits for the setup page.
func enableWaitingForSetup(t *testing.T, a *api, host string) instance {
	t.Helper()
	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "forum", "host": host}, &inst)
	eventually(t, 20*time.Second, "the enable to wait for setup", func() bool {
		a.must(http.StatusOK, "GET", "/instances/"+inst.ID, nil, &inst)
		return stepState(inst, "enable", "setup") == "waiting"
	})
	return inst
}

// versioning is the build a workflow's latest run runs on.
func versioning(t *testing.T, s *stack.Stack, id string) string {
	t.Helper()
	d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetVersioningInfo().GetDeploymentVersion().GetBuildId()
}

// ranOn checks that a workflow runs (or ran) on a build with a behaviour,
// and that each of its workflow tasks completed on that build.
func ranOn(t *testing.T, s *stack.Stack, id, build string, behavior enums.VersioningBehavior) {
	t.Helper()
	ctx := context.Background()
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	info := d.GetWorkflowExecutionInfo().GetVersioningInfo()
	if info.GetDeploymentVersion().GetBuildId() != build || info.GetBehavior() != behavior {
		t.Fatalf("%s runs %s on %q, want %s on %q", id, info.GetBehavior(), info.GetDeploymentVersion().GetBuildId(), behavior, build)
	}
	it := s.Temporal.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if done := e.GetWorkflowTaskCompletedEventAttributes(); done != nil && done.GetDeploymentVersion().GetBuildId() != build {
			t.Fatalf("%s: workflow task %d completed on %q, want %q", id, e.GetEventId(), done.GetDeploymentVersion().GetBuildId(), build)
		}
	}
}

// TestDevRestartWithChangedCodeStrandsNothing restarts the dev stack with
// another build (changed code): the new build makes itself current in
// place of the one whose workers are gone and takes over its pinned
// workflows, so a provisioning that waited for its setup page on the old
// build finishes on the new one, and the old build drains.
func TestDevRestartWithChangedCodeStrandsNothing(t *testing.T) {
	ctx := context.Background()
	cfg := stackEnv(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}, RunWorker: true, AdoptOrphans: true})
	cfg.Listen, cfg.BuildID = "127.0.0.1:0", "dev-1"
	first, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ada := signupAndLogin(t, first.URL, "ada@acme.test")
	inst := enableWaitingForSetup(t, ada, "acme.localhost")
	ranOn(t, first, workflows.EnableID(inst.ID), "dev-1", enums.VERSIONING_BEHAVIOR_PINNED)
	first.Stop()

	cfg.BuildID = "dev-2"
	second, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	if _, err := second.Platform.BootstrapPlatformRole(ctx, "ada@acme.test", "developer"); err != nil {
		t.Fatal(err)
	}
	ada.base = second.URL + "/api"
	if v, current, _ := versionOf(ada, "dev-2"); current != "dev-2" || v.Status != worker.StatusCurrent {
		t.Fatalf("after the restart: current %q, dev-2 %+v", current, v)
	}
	if v, _, _ := versionOf(ada, "dev-1"); v.OpenPinned != 0 || v.Stranded {
		t.Fatalf("the old build still holds workflows: %+v", v)
	}
	ada.must(http.StatusAccepted, "POST", "/instances/"+inst.ID+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"}, nil)
	waitStatus(t, ada, "/instances/"+inst.ID, "ready")
	if on := versioning(t, second, workflows.EnableID(inst.ID)); on != "dev-2" {
		t.Fatalf("the provisioning finished on %q", on)
	}
	eventually(t, 60*time.Second, "the old build to drain", func() bool {
		v, _, _ := versionOf(ada, "dev-1")
		return v.Status == worker.StatusDrained
	})
}
