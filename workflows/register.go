package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Definition is one workflow type the worker runs: its function (whose name
// is the workflow type) and the versioning behaviour its contract declares.
type Definition struct {
	Fn         any
	Versioning workflow.VersioningBehavior
}

// Workflows lists every workflow the worker runs with its versioning
// behaviour. Register adds exactly these; the replay test requires a
// recorded history of each.
func Workflows() []Definition {
	return []Definition{
		{Signup, SignupVersioning},
		{EnableService, EnableServiceVersioning},
		{CreateDatabase, CreateDatabaseVersioning},
		{MigrateAndSeed, MigrateAndSeedVersioning},
		{ChangeModules, ChangeModulesVersioning},
		{DisableService, DisableServiceVersioning},
		{BillingCycle, BillingCycleVersioning},
		{InstanceExpiry, InstanceExpiryVersioning},
		{UpgradeInstance, UpgradeInstanceVersioning},
		{PriceChange, PriceChangeVersioning},
		{Rollout, RolloutVersioning},
		{MoveInstance, MoveInstanceVersioning},
		{DrainServer, DrainServerVersioning},
		{ServiceJob, ServiceJobVersioning},
		{Bind, BindVersioning},
		{Unbind, UnbindVersioning},
		{LogRetention, LogRetentionVersioning},
	}
}

// Register adds every workflow with its versioning behaviour to a worker
// (or a replayer, so both read the same declarations). A versioned worker
// refuses a workflow without one.
func Register(r worker.WorkflowRegistry) {
	for _, d := range Workflows() {
		r.RegisterWorkflowWithOptions(d.Fn, workflow.RegisterOptions{VersioningBehavior: d.Versioning})
	}
}

// RegisterJobs adds what a service's own task queue (JobTaskQueue) runs:
// the ServiceJob workflow.
func RegisterJobs(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(ServiceJob, workflow.RegisterOptions{VersioningBehavior: ServiceJobVersioning})
}
