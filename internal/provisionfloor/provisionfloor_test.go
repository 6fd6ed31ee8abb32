package provisionfloor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCommandShipsTheFloor: the floor skips Temporal and compensation, so
// only benchmarks and tests may use it.
func TestNoCommandShipsTheFloor(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "tenantry/cmd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "tenantry/internal/provisionfloor" {
			t.Fatal("a command under cmd/ imports internal/provisionfloor")
		}
	}
}
