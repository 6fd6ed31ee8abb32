package workflows

import (
	"go.temporal.io/sdk/worker"
)

// Register adds every workflow to a worker (or a replayer).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(Signup)
	r.RegisterWorkflow(EnableService)
	r.RegisterWorkflow(CreateDatabase)
	r.RegisterWorkflow(MigrateAndSeed)
	r.RegisterWorkflow(ChangeModules)
	r.RegisterWorkflow(DisableService)
	r.RegisterWorkflow(BillingCycle)
	r.RegisterWorkflow(InstanceExpiry)
	r.RegisterWorkflow(UpgradeInstance)
	r.RegisterWorkflow(PriceChange)
}
