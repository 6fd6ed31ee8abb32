// Package worker runs Tenantry's Temporal worker: every workflow and the
// activities they schedule on one task queue.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"tenantry/activities"
	"tenantry/workflows"
)

// New builds a worker for the task queue with every workflow and the
// activities they schedule (activities.Register) registered. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      64,
		MaxConcurrentLocalActivityExecutionSize: 64,
		MaxConcurrentWorkflowTaskExecutionSize:  64,
		MaxConcurrentWorkflowTaskPollers:        8,
		// A burst of period closes queues far more workflow tasks than the
		// worker takes at once; a task that outwaits this timeout is moved
		// to the normal queue, where the dev server left it a minute. A
		// worker that goes away is noticed by the server without it.
		StickyScheduleToStartTimeout: 5 * time.Minute,
		// A long step's heartbeat answer is where its cancellation
		// arrives: send them at most this far apart, so a cancelled
		// migration stops within seconds, not 80% of its heartbeat timeout.
		MaxHeartbeatThrottleInterval: 2 * time.Second,
	})
	workflows.Register(w)
	activities.Register(w, acts)
	return w
}
