package devstack

import (
	"os"
	"testing"
)

// TempStateDir is a state folder for one test that an unprivileged server
// account can reach (t.TempDir is private to its creator), removed at the end.
func TempStateDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tenantry-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
