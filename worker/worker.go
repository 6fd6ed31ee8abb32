// Package worker runs Tenantry's Temporal worker: every workflow and the
// activities they schedule on one task queue, as one version (its build)
// of the Worker Deployment DeploymentName.
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

// New builds a worker for the task queue with every workflow and the
// activities they schedule (activities.Register) registered, as the
// version buildID of the deployment: it gets the tasks of new workflows
// only once that version is current (or ramping), and keeps those of the
// pinned workflows that started on it. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities, buildID string) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		// No default behaviour: every workflow declares its own
		// (workflows.Register), and one that does not is refused here.
		DeploymentOptions:                       sdkworker.DeploymentOptions{UseVersioning: true, Version: DeploymentVersion(buildID)},
		MaxConcurrentActivityExecutionSize:      64,
		MaxConcurrentLocalActivityExecutionSize: 64,
		MaxConcurrentWorkflowTaskExecutionSize:  64,
		MaxConcurrentWorkflowTaskPollers:        8,
		// A burst of period closes queues far more workflow tasks than the
		// worker takes at once; a task that outwaits this timeout is moved
		// to the normal queue, where the dev server left it a minute. A
		// worker that goes away is noticed by the server without it.
		StickyScheduleToStartTimeout: 5 * time.Minute,
	})
	workflows.Register(w)
	activities.Register(w, acts)
	return w
}
