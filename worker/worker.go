// Package worker runs Tenantry's Temporal workers: every workflow and the
// activities they schedule on the main task queue, and each service's jobs
// on that service's own task queue, all as one version (its build) of the
// Worker Deployment DeploymentName.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"tenantry/activities"
	"tenantry/workflows"
)

// DeploymentName is the Worker Deployment every Tenantry worker joins.
const DeploymentName = "tenantry"

// DeploymentVersion is the deployment version of a build.
func DeploymentVersion(buildID string) sdkworker.WorkerDeploymentVersion {
	return sdkworker.WorkerDeploymentVersion{DeploymentName: DeploymentName, BuildID: buildID}
}

// StickyTimeout is how long a workflow task waits on a worker's sticky
// queue before any worker may take it.
const StickyTimeout = 3 * time.Second

// Worker is the main queue's worker and one per service's job queue.
type Worker struct {
	workers []sdkworker.Worker
	queues  []string
}

// New builds the workers: the main task queue with every workflow and the
// activities they schedule (activities.Register), and for each service a
// worker on its job queue (workflows.JobTaskQueue) with the ServiceJob
// workflow and the same activities. Start them with Start.
//
// Each is the version buildID of the deployment: it gets the tasks of new
// workflows only once that version is current (or ramping), and keeps
// those of the pinned workflows that started on it. There is no default
// behaviour: every workflow declares its own (workflows.Register,
// workflows.RegisterJobs), and one that does not is refused here.
func New(c client.Client, acts *activities.Activities, buildID string, services []string) *Worker {
	versioned := sdkworker.DeploymentOptions{UseVersioning: true, Version: DeploymentVersion(buildID)}
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		DeploymentOptions:                       versioned,
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
	all := &Worker{workers: []sdkworker.Worker{w}, queues: []string{workflows.TaskQueue}}
	for _, svc := range services {
		jw := sdkworker.New(c, workflows.JobTaskQueue(svc), sdkworker.Options{
			DeploymentOptions:                  versioned,
			MaxConcurrentActivityExecutionSize: 16,
			MaxHeartbeatThrottleInterval:       heartbeatThrottle,
		})
		workflows.RegisterJobs(jw)
		activities.Register(jw, acts)
		all.workers = append(all.workers, jw)
		all.queues = append(all.queues, workflows.JobTaskQueue(svc))
	}
	return all
}

// heartbeatThrottle: a long step's heartbeat answer is where its
// cancellation arrives, so heartbeats go out at most this far apart and a
// cancelled migration or job stops within seconds, not 80% of its
// heartbeat timeout.
const heartbeatThrottle = 2 * time.Second

// TaskQueues are the task queues the workers poll.
func (w *Worker) TaskQueues() []string { return w.queues }

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
