// Package buildinfo names the build of this binary: the VCS revision the Go
// toolchain recorded, with a "-dirty" marker for uncommitted changes. The
// process heartbeats and the worker's deployment version use it.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

var (
	once sync.Once
	id   string
)

// ID is the build ID: override when set (TENANTRY_BUILD_ID), otherwise the
// recorded revision's first 12 characters (plus "-dirty"), or "dev" for a
// binary built without VCS information (go run, tests).
func ID(override string) string {
	if override != "" {
		return override
	}
	once.Do(func() { id = fromBuildInfo() })
	return id
}

func fromBuildInfo() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
