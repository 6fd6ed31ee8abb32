package stack

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/controldb"
)

// heartbeats keeps one heartbeat row per part this process runs (web,
// worker, router) until Stop, when the rows are removed.
type heartbeats struct {
	stop context.CancelFunc
	done sync.WaitGroup
	ids  []string
}

// startHeartbeats beats at once (so a rollout started right after sees this
// process) and then every HeartbeatInterval.
func (s *Stack) startHeartbeats(ctx context.Context, cfg Config, kinds []string) error {
	host, _ := os.Hostname()
	versions := map[string][]string{}
	for _, name := range s.Catalog.Names() {
		svc, _ := s.Catalog.Service(name)
		for _, v := range svc.Versions {
			versions[name] = append(versions[name], v.Version)
		}
	}
	var procs []controldb.Process
	for _, k := range kinds {
		p := controldb.Process{ID: uuid.NewString(), Kind: k, Host: host, PID: os.Getpid(), Build: cfg.BuildID, Versions: versions}
		if err := controldb.Beat(ctx, s.DB, p); err != nil {
			return err
		}
		procs = append(procs, p)
		s.beats.ids = append(s.beats.ids, p.ID)
	}
	bctx, stop := context.WithCancel(context.Background())
	s.beats.stop = stop
	s.beats.done.Go(func() {
		t := time.NewTicker(controldb.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
				for _, p := range procs {
					if err := controldb.Beat(bctx, s.DB, p); err != nil && bctx.Err() == nil {
						cfg.Log.Warn("heartbeat", "kind", p.Kind, "err", err)
					}
				}
			}
		}
	})
	return nil
}

// stopHeartbeats ends the beats and removes this process's rows.
func (s *Stack) stopHeartbeats() {
	if s.beats.stop == nil {
		return
	}
	s.beats.stop()
	s.beats.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range s.beats.ids {
		_ = controldb.ForgetProcess(ctx, s.DB, id)
	}
}
