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

// StickyTimeout is how long a workflow task waits on a worker's sticky
// queue before any worker may take it.
const StickyTimeout = 3 * time.Second

// New builds a worker for the task queue with every workflow and the
// activities they schedule (activities.Register) registered. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      64,
		MaxConcurrentLocalActivityExecutionSize: 64,
		MaxConcurrentWorkflowTaskExecutionSize:  64,
		// Separate pollers for the sticky and the normal queue (the
		// autoscaling behaviour): a burst of period closes outwaits the
		// sticky timeout and moves to the normal queue, where they are
		// taken at once; one mixed pool kept polling the drained sticky
		// queue for a minute instead. So the timeout can stay short: a
		// SIGKILLed worker's workflows move on within it (plus the
		// server's 10 s to notice the poller gone).
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
			InitialNumberOfPollers: 8, MinimumNumberOfPollers: 2, MaximumNumberOfPollers: 16}),
		StickyScheduleToStartTimeout: StickyTimeout,
		// On stop: no new tasks, the sticky queue handed back to the
		// server, and this long for the tasks in hand to finish.
		WorkerStopTimeout: 10 * time.Second,
	})
	workflows.Register(w)
	activities.Register(w, acts)
	return w
}
