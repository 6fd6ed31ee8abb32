package console

import (
	"context"
	"strings"
	"testing"

	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

// The live part names the instances a move holds, which the rollout
// upgrades last, beside those upgrading now.
func TestRolloutPageNamesInstancesWaitingForAMove(t *testing.T) {
	v := platform.RolloutView{RolloutRow: controldb.RolloutRow{ID: "r1", Service: "forum", Version: "1.2.0"},
		Progress: &workflows.RolloutProgress{InFlight: []string{"i1"}, Moving: []string{"i7", "i9"}}}
	var b strings.Builder
	if err := RolloutLivePart(rolloutLive(v)).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, "Upgrading now: i1") || !strings.Contains(page, `id="rollout-moving"`) ||
		!strings.Contains(page, "upgraded last): i7, i9") {
		t.Errorf("the live part:\n%s", page)
	}
}
