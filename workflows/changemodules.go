package workflows

import (
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// ChangeModulesID allows one module change per instance at a time.
func ChangeModulesID(instanceID string) string { return "modules/" + instanceID }

// ChangeModulesInput is the instance's wanted module set.
type ChangeModulesInput struct {
	InstanceID string
	AccountID  string
	ActorID    string
	Modules    []string
}

// ChangeModules checks the new module set, writes it into the tenant's
// settings, then switches billing: the removed modules' spans close and the
// added ones open at the same instant.
func ChangeModules(ctx workflow.Context, in ChangeModulesInput) (activities.ModuleChange, error) {
	t, err := newTracker(ctx,
		stepDef{"check", "Check the modules against the catalog"},
		stepDef{"tenant_settings", "Write the modules into the instance's settings"},
		stepDef{"billing", "Switch billing to the new modules"},
	)
	if err != nil {
		return activities.ModuleChange{}, err
	}
	db := withDBSteps(ctx)
	var change activities.ModuleChange
	at := workflow.Now(ctx).UTC()
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{"check", func() error {
			return call(db, acts.CheckModuleChange, activities.ModuleChangeInput{InstanceID: in.InstanceID, Modules: in.Modules}, &change)
		}},
		{"tenant_settings", func() error {
			return call(db, acts.WriteTenantModules, activities.TenantModulesInput{InstanceID: in.InstanceID, Modules: change.Modules}, nil)
		}},
		{"billing", func() error {
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
