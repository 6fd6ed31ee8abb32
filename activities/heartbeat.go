package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often a long step tells the server it is alive. The
// workflows give long steps a heartbeat timeout of 10 s; the worker sends
// heartbeats at most every few seconds (its throttle), and a heartbeat's
// answer is where a cancellation reaches the activity.
const heartbeatEvery = 2 * time.Second

// longStep runs fn for a step that may take minutes (a migration, a seed, a
// database drop), heartbeating with the step's name until fn returns. When
// the workflow cancels the step or the server times it out, ctx is
// cancelled and fn must stop. Outside a worker (tests calling the method
// directly) it just runs fn.
func longStep(ctx context.Context, step string, fn func(context.Context) error) error {
	if !activity.IsActivity(ctx) {
		return fn(ctx)
	}
	done := make(chan struct{})
	defer close(done)
	started := time.Now()
	// The first heartbeat waits for heartbeatEvery: a heartbeat is a
	// server call, and most steps are done before one is due.
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, step+" running for "+time.Since(started).Round(time.Second).String())
			}
		}
	}()
	return fn(ctx)
}
