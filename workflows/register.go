package workflows

import (
	"go.temporal.io/sdk/worker"
)

// Workflows lists every workflow function the worker runs, each registered
// under its function's name (its workflow type). Register adds exactly
// these; the replay test requires a recorded history of each.
func Workflows() []any {
	return []any{
		Signup,
		EnableService,
		CreateDatabase,
		MigrateAndSeed,
		ChangeModules,
		DisableService,
		BillingCycle,
		InstanceExpiry,
		UpgradeInstance,
		PriceChange,
		Rollout,
		MoveInstance,
		DrainServer,
		ServiceJob,
		Bind,
		Unbind,
		LogRetention,
	}
}

// Register adds every workflow to a worker (or a replayer).
func Register(r worker.WorkflowRegistry) {
	for _, wf := range Workflows() {
		r.RegisterWorkflow(wf)
	}
}

// RegisterJobs adds what a service's own task queue (JobTaskQueue) runs:
// the ServiceJob workflow.
func RegisterJobs(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(ServiceJob)
}
