package stack

import (
	"context"
	"errors"
	"os"
	"syscall"

	"tenantry/internal/controldb"
	"tenantry/worker"
)

// activate routes new work to this process's worker once it polls: its
// build becomes current when the deployment has none (the first build).
// The dev stack (cfg.AdoptOrphans) also takes over from builds whose
// workers are gone: it becomes current in their place and re-pins their
// running pinned workflows to itself, so restarting dev with changed code
// strands nothing.
func (s *Stack) activate(ctx context.Context, cfg Config) error {
	opts := worker.ActivateOptions{Log: func(msg string, args ...any) { cfg.Log.Info(msg, args...) }}
	if cfg.AdoptOrphans {
		live, err := s.liveBuilds(ctx)
		if err != nil {
			return err
		}
		opts.Orphaned = func(build string) bool { return build != cfg.BuildID && !live[build] }
	}
	done, err := worker.Activate(ctx, s.Temporal, cfg.BuildID, s.worker.TaskQueues(), opts)
	if err != nil {
		return err
	}
	if done.Repinned > 0 {
		cfg.Log.Warn("moved running pinned workflows to this build: their earlier build has no worker left",
			"build", cfg.BuildID, "workflows", done.Repinned)
	}
	return nil
}

// liveBuilds are the builds with a live worker process, by the process
// heartbeats; a process of this host whose PID is gone (killed before it
// could remove its row) does not count.
func (s *Stack) liveBuilds(ctx context.Context) (map[string]bool, error) {
	procs, err := controldb.LiveProcesses(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	live := map[string]bool{}
	for _, p := range procs {
		if p.Kind != controldb.ProcessWorker || p.Host == host && !processAlive(p.PID) {
			continue
		}
		live[p.Build] = true
	}
	return live, nil
}

// processAlive says whether a process of this host exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
