// Package worker runs Tenantry's Temporal workers: every workflow and the
// activities they schedule on the main task queue, and each service's jobs
// on that service's own task queue.
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

// Worker is the main queue's worker and one per service's job queue.
type Worker struct {
	workers []sdkworker.Worker
}

// New builds the workers: the main task queue with every workflow and the
// activities they schedule (activities.Register), and for each service a
// worker on its job queue (workflows.JobTaskQueue) with the ServiceJob
// workflow and the same activities. Start them with Start.
func New(c client.Client, acts *activities.Activities, services []string) *Worker {
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
		WorkerStopTimeout:            10 * time.Second,
		MaxHeartbeatThrottleInterval: heartbeatThrottle,
	})
	workflows.Register(w)
	activities.Register(w, acts)
	all := &Worker{workers: []sdkworker.Worker{w}}
	for _, svc := range services {
		jw := sdkworker.New(c, workflows.JobTaskQueue(svc), sdkworker.Options{
			MaxConcurrentActivityExecutionSize: 16,
			MaxHeartbeatThrottleInterval:       heartbeatThrottle,
		})
		workflows.RegisterJobs(jw)
		activities.Register(jw, acts)
		all.workers = append(all.workers, jw)
	}
	return all
}

// heartbeatThrottle: a long step's heartbeat answer is where its
// cancellation arrives, so heartbeats go out at most this far apart and a
// cancelled migration or job stops within seconds, not 80% of its
// heartbeat timeout.
const heartbeatThrottle = 2 * time.Second

// Start starts every worker; if one cannot start, those started stop.
func (w *Worker) Start() error {
	for i, x := range w.workers {
		if err := x.Start(); err != nil {
			for _, started := range w.workers[:i] {
				started.Stop()
			}
			return err
		}
	}
	return nil
}

// Stop stops every worker, waiting for the activities they run.
func (w *Worker) Stop() {
	for _, x := range w.workers {
		x.Stop()
	}
}
