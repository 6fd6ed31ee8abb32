package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"tenantry/internal/stack"
)

// recordEnv names the variable that makes the journey save its workflows'
// histories as the replay tests' fixtures:
//
//	TENANTRY_RECORD_HISTORIES=1 go test ./e2e -run 'TestClientJourney|TestOperatorUpgradesAnInstance|TestScheduledPriceChangeOnTheDevServer|TestBillingOneMinutePeriods|TestInstanceExpiresUnlessRenewed|TestBrokerLifecycle|TestRolloutThroughTheAPI|TestFleetOfTwoServers|TestServiceJobsOnTheirQueueAndHeld|TestAFailedUpgradeMigratesBack'
//
// Histories recorded before a change guarded by workflow.GetVersion stay
// beside the new ones under another name (e.g. *_local_steps.json, from
// before long steps became regular activities), so old runs keep
// replaying too.
const recordEnv = "TENANTRY_RECORD_HISTORIES"

// recordHistories writes each workflow's history to
// workflows/testdata/<name>.json in the format `temporal workflow show
// --output json` prints, when recordEnv is set.
func recordHistories(t *testing.T, s *stack.Stack, byName map[string]string) {
	t.Helper()
	if os.Getenv(recordEnv) == "" {
		return
	}
	for name, id := range byName {
		recordRun(t, s, name, id, "")
	}
}

// recordRun writes one run's history (the latest when runID is empty) as
// workflows/testdata/<name>.json, when recordEnv is set.
func recordRun(t *testing.T, s *stack.Stack, name, id, runID string) {
	t.Helper()
	if os.Getenv(recordEnv) == "" {
		return
	}
	ctx := context.Background()
	h := &history.History{}
	it := s.Temporal.GetWorkflowHistory(ctx, id, runID, false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "workflows", "testdata", name+".json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s → %s", id, file)
}
