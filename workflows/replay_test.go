package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

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
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// recordedType is the workflow type a recorded history started.
func recordedType(t *testing.T, file string) string {
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
	return h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
}
