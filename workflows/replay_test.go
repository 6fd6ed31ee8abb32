package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tenantry/worker"
	"tenantry/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs (see
// e2e/record_test.go) against today's workflow code: a change that would
// break running workflows fails here. Every workflow type Register adds
// needs at least one recorded history in testdata/. Re-record only when such
// a change is guarded with workflow.GetVersion or no old run can still be
// open.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, wf := range workflows.Workflows() {
		registered[activityName(wf.Fn)] = true // a workflow's type is its function's name too
	}
	recorded := map[string][]string{} // workflow type → its fixtures
	for _, file := range files {
		typ := recordedType(t, file)
		if !registered[typ] {
			t.Errorf("%s records a %q, which Register does not add", file, typ)
		}
		recorded[typ] = append(recorded[typ], file)
	}
	for typ := range registered {
		if len(recorded[typ]) == 0 {
			t.Errorf("no recorded history of %s in testdata/: record one with e2e/record_test.go", typ)
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			workflows.Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// TestPinnedHistoryReplaysOnItsBuild replays a provisioning recorded on a
// versioned worker (e2e TestShippingANewWorkerBuild: it waited for its
// setup page on build A while build B became current, then finished on
// A): every workflow task of it completed on build A as pinned, so its
// history replays on the code of its own build, which is today's. And
// wherever a recorded history says how its workflow tasks were versioned,
// that is what the workflow's contract declares today.
func TestPinnedHistoryReplaysOnItsBuild(t *testing.T) {
	file := filepath.Join("testdata", "enable_pinned_build_a.json")
	h := readHistory(t, file)
	tasks := 0
	for _, e := range h.GetEvents() {
		if done := e.GetWorkflowTaskCompletedEventAttributes(); done != nil {
			tasks++
			if done.GetVersioningBehavior() != enums.VERSIONING_BEHAVIOR_PINNED || done.GetDeploymentVersion().GetBuildId() != "build-a" ||
				done.GetDeploymentVersion().GetDeploymentName() != worker.DeploymentName {
				t.Fatalf("workflow task %d completed %s on %v, want pinned on build-a", e.GetEventId(),
					done.GetVersioningBehavior(), done.GetDeploymentVersion())
			}
		}
	}
	if tasks < 2 {
		t.Fatalf("%s has %d workflow tasks: not a run that waited", file, tasks)
	}
	r := sdkworker.NewWorkflowReplayer()
	workflows.Register(r)
	if err := r.ReplayWorkflowHistory(nil, h); err != nil {
		t.Fatalf("replay on its own build: %v", err)
	}

	declared := map[string]enums.VersioningBehavior{}
	for _, d := range workflows.Workflows() {
		declared[activityName(d.Fn)] = enums.VersioningBehavior(d.Versioning)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		typ := recordedType(t, file)
		for _, e := range readHistory(t, file).GetEvents() {
			done := e.GetWorkflowTaskCompletedEventAttributes()
			if b := done.GetVersioningBehavior(); done != nil && b != enums.VERSIONING_BEHAVIOR_UNSPECIFIED && b != declared[typ] {
				t.Errorf("%s: %s ran %s, its contract declares %s", file, typ, b, declared[typ])
			}
		}
	}
}

// TestEveryWorkflowDeclaresItsVersioning: a versioned worker refuses a
// workflow without a behaviour; the declarations are pinned or
// auto-upgrade, nothing else.
func TestEveryWorkflowDeclaresItsVersioning(t *testing.T) {
	for _, d := range workflows.Workflows() {
		if d.Versioning != workflow.VersioningBehaviorPinned && d.Versioning != workflow.VersioningBehaviorAutoUpgrade {
			t.Errorf("%s declares versioning behaviour %d", activityName(d.Fn), d.Versioning)
		}
	}
}

// recordedType is the workflow type a recorded history started.
func recordedType(t *testing.T, file string) string {
	t.Helper()
	return readHistory(t, file).GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
}

// readHistory reads a recorded history.
func readHistory(t *testing.T, file string) *history.History {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(h.GetEvents()) == 0 {
		t.Fatalf("%s holds no events", file)
	}
	return h
}
