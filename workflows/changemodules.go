package workflows

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// ChangeModules' contract: one change per instance at a time on TaskQueue,
// started by StartChangeModules; its progress query answers a Progress.

// ChangeModulesVersioning is pinned: it finishes in seconds.
const ChangeModulesVersioning = workflow.VersioningBehaviorPinned

// ChangeModulesID allows one module change per instance at a time.
func ChangeModulesID(instanceID string) string { return "modules/" + instanceID }

// ChangeModulesInput is the instance's wanted module set.
type ChangeModulesInput struct {
	InstanceID string
	AccountID  string
	Service    string // for the search attributes
	ActorID    string
	Modules    []string
}

// ChangeModulesResult is the change as checked against the catalog.
type ChangeModulesResult = activities.ModuleChange

// ChangeModules' steps, in order.
const (
	ChangeModulesStepCheck    = "check"
	ChangeModulesStepSettings = "tenant_settings"
	ChangeModulesStepBilling  = "billing"
)

// StartChangeModules starts an instance's module change; one still running
// for the instance is an apperr.Conflict.
func StartChangeModules(ctx context.Context, c client.Client, in ChangeModulesInput) error {
	_, err := startOnce(ctx, c, ChangeModulesID(in.InstanceID), SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"a module change for this instance is already in progress", ChangeModules, in)
	return err
}

// ChangeModules checks the new module set, writes it into the tenant's
// settings, then switches billing: the removed modules' spans close and the
// added ones open at the same instant.
func ChangeModules(ctx workflow.Context, in ChangeModulesInput) (ChangeModulesResult, error) {
	t, err := newTracker(ctx,
		stepDef{ChangeModulesStepCheck, "Check the modules against the catalog"},
		stepDef{ChangeModulesStepSettings, "Write the modules into the instance's settings"},
		stepDef{ChangeModulesStepBilling, "Switch billing to the new modules"},
	)
	if err != nil {
		return ChangeModulesResult{}, err
	}
	db := withDBSteps(ctx)
	var change ChangeModulesResult
	at := workflow.Now(ctx).UTC()
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{ChangeModulesStepCheck, func() error {
			return call(db, acts.CheckModuleChange, activities.ModuleChangeInput{InstanceID: in.InstanceID, Modules: in.Modules}, &change)
		}},
		{ChangeModulesStepSettings, func() error {
			return call(db, acts.WriteTenantModules, activities.TenantModulesInput{InstanceID: in.InstanceID, Modules: change.Modules}, nil)
		}},
		{ChangeModulesStepBilling, func() error {
			return call(db, acts.SwitchModules, activities.ModuleChangeInput{
				InstanceID: in.InstanceID, ActorID: in.ActorID, Modules: change.Modules, At: at,
			}, nil)
		}},
	} {
		if err := t.run(ctx, st.name, st.fn); err != nil {
			t.fail(ctx, err)
			return change, err
		}
	}
	t.finish(StatusCompleted)
	return change, nil
}
