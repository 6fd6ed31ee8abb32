// Package worker runs Tenantry's Temporal worker: every workflow and
// activity on one task queue.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"tenantry/activities"
	"tenantry/workflows"
)

// New builds a worker for the task queue with every workflow and activity
// registered. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      64,
		MaxConcurrentLocalActivityExecutionSize: 64,
		MaxConcurrentWorkflowTaskExecutionSize:  64,
		MaxConcurrentWorkflowTaskPollers:        8,
		StickyScheduleToStartTimeout:            30 * time.Second,
	})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return w
}
