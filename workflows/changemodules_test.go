package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

var moduleChange = activities.ModuleChange{
	Modules: []string{"core", "invoices", "shop"}, Added: []string{"shop"}, Removed: []string{"crm"},
}

func changeModulesInput() workflows.ChangeModulesInput {
	return workflows.ChangeModulesInput{
		InstanceID: instanceID, AccountID: accountID, ActorID: actorID, Modules: []string{"invoices", "shop"},
	}
}

func (h *harness) stubChangeModules() {
	h.stub(acts.CheckModuleChange, moduleChange, nil)
	h.stub(acts.WriteTenantModules, nil)
	h.stub(acts.SwitchModules, nil)
}

func TestChangeModules(t *testing.T) {
	h := newHarness(t)
	h.stubChangeModules()

	h.env.ExecuteWorkflow(workflows.ChangeModules, changeModulesInput())

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res activities.ModuleChange
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, moduleChange, res)
	assert.Equal(t, names(acts.CheckModuleChange, acts.WriteTenantModules, acts.SwitchModules), h.called())

	assert.Equal(t, activities.ModuleChangeInput{InstanceID: instanceID, Modules: []string{"invoices", "shop"}},
		input[activities.ModuleChangeInput](h, acts.CheckModuleChange))
	assert.Equal(t, activities.TenantModulesInput{InstanceID: instanceID, Modules: moduleChange.Modules},
		input[activities.TenantModulesInput](h, acts.WriteTenantModules), "the tenant gets the resolved modules")
	assert.Equal(t, activities.ModuleChangeInput{
		InstanceID: instanceID, ActorID: actorID, Modules: moduleChange.Modules, At: start,
	}, input[activities.ModuleChangeInput](h, acts.SwitchModules),
		"billing switches the resolved modules; one At closes the removed spans and opens the added ones")

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{
		"check": workflows.StepDone, "tenant_settings": workflows.StepDone, "billing": workflows.StepDone,
	}, states(p))
}

func TestChangeModulesConflict(t *testing.T) {
	h := newHarness(t)
	const msg = "modules can only change while the instance is ready (it is disabled)"
	h.failAt(acts.CheckModuleChange, domainErr(apperr.Conflict(msg)))
	h.stubChangeModules()

	h.env.ExecuteWorkflow(workflows.ChangeModules, changeModulesInput())

	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Equal(t, msg, apperr.Message(err))
	assert.Equal(t, names(acts.CheckModuleChange), h.called(), "neither the tenant nor billing is touched")

	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, msg, p.Error)
	assert.Equal(t, map[string]workflows.StepState{
		"check": workflows.StepFailed, "tenant_settings": workflows.StepSkipped, "billing": workflows.StepSkipped,
	}, states(p))
	assert.Equal(t, msg, step(t, p, "check").Error)
}
