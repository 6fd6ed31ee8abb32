package devstack

import (
	"os"
	"testing"
)

// ScratchDir makes a folder for a throwaway cluster that an unprivileged
// server account can reach. It prefers /dev/shm: a RAM-backed cluster keeps
// the disk's latency spikes out of tests and benchmarks (CREATE DATABASE
// writes hundreds of files).
func ScratchDir(prefix string) (string, error) {
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil && base != "" {
		dir, err = os.MkdirTemp("", prefix)
	}
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

// TempStateDir is a scratch state folder for one test, removed at the end.
func TempStateDir(t testing.TB) string {
	t.Helper()
	dir, err := ScratchDir("tenantry-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
