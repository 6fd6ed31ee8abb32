package activities

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// Register adds to a worker exactly the activities the workflows schedule,
// each under its method's name: the type name workflows resolve acts.X to
// and recorded histories hold, so a name never changes. Exported methods of
// Activities that are not listed here are not activities.
func Register(r worker.ActivityRegistry, a *Activities) {
	for _, d := range a.definitions() {
		r.RegisterActivityWithOptions(d.fn, activity.RegisterOptions{Name: d.name})
	}
}

// Names lists the registered activity type names, in registration order.
func Names() []string {
	defs := (&Activities{}).definitions()
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.name
	}
	return names
}

type definition struct {
	name string
	fn   any
}

// definitions is every activity, grouped by the workflow that first runs it.
func (a *Activities) definitions() []definition {
	return []definition{
		// Signup
		{"CreateAccount", a.CreateAccount},
		// EnableService, CreateDatabase, MigrateAndSeed
		{"ReserveInstance", a.ReserveInstance},
		{"AllocateDatabase", a.AllocateDatabase},
		{"CreateRole", a.CreateRole},
		{"CreateDatabase", a.CreateDatabase},
		{"MigrateTenant", a.MigrateTenant},
		{"SeedTenant", a.SeedTenant},
		{"RegisterHost", a.RegisterHost},
		{"OpenUsageSpans", a.OpenUsageSpans},
		{"MarkReady", a.MarkReady},
		{"FailInstance", a.FailInstance},
		{"DropDatabase", a.DropDatabase},
		// ChangeModules
		{"CheckModuleChange", a.CheckModuleChange},
		{"WriteTenantModules", a.WriteTenantModules},
		{"SwitchModules", a.SwitchModules},
		// DisableService
		{"DisableInstance", a.DisableInstance},
		{"ReenableInstance", a.ReenableInstance},
		{"DeleteInstance", a.DeleteInstance},
		// BillingCycle
		{"CloseBillingPeriod", a.CloseBillingPeriod},
		// InstanceExpiry
		{"InstanceExpiry", a.InstanceExpiry},
		{"WarnExpiry", a.WarnExpiry},
		// UpgradeInstance
		{"CheckUpgrade", a.CheckUpgrade},
		{"SetMaintenance", a.SetMaintenance},
		{"SwapVersion", a.SwapVersion},
		// PriceChange
		{"ApplyScheduledPrice", a.ApplyScheduledPrice},
		// Rollout
		{"PlanRollout", a.PlanRollout},
		{"RolloutReadiness", a.RolloutReadiness},
		{"HoldServiceJobs", a.HoldServiceJobs},
		{"ServiceJobsInFlight", a.ServiceJobsInFlight},
		{"ReleaseServiceJobs", a.ReleaseServiceJobs},
		{"RolloutInstancesMoving", a.RolloutInstancesMoving},
		{"ClaimRolloutBatch", a.ClaimRolloutBatch},
		{"RecordRolloutInstance", a.RecordRolloutInstance},
		{"RequeueRolloutFailures", a.RequeueRolloutFailures},
		{"FinishRollout", a.FinishRollout},
		// MoveInstance
		{"CheckMove", a.CheckMove},
		{"CopyTenantDatabase", a.CopyTenantDatabase},
		{"VerifyTenantCopy", a.VerifyTenantCopy},
		{"SwitchServer", a.SwitchServer},
		{"AbandonTenantCopy", a.AbandonTenantCopy},
		{"DropTenantCopy", a.DropTenantCopy},
		// DrainServer
		{"ServerInstances", a.ServerInstances},
		{"PickMoveTarget", a.PickMoveTarget},
		// ServiceJob
		{"ClaimJob", a.ClaimJob},
		{"RunJob", a.RunJob},
		{"FinishJob", a.FinishJob},
		// Bind, Unbind
		{"CreateBindingRole", a.CreateBindingRole},
		{"DropBindingRole", a.DropBindingRole},
		// LogRetention
		{"PruneInstanceLogs", a.PruneInstanceLogs},
	}
}
