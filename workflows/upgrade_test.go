package workflows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

var upgradePlan = activities.UpgradePlan{Service: "forum", FromVersion: "1.1.0", Version: "1.2.0",
	Modules: []string{"core", "search"}, Dropped: []string{"attachments"}}

func upgradeInput() workflows.UpgradeInput {
	return workflows.UpgradeInput{InstanceID: instanceID, AccountID: accountID, Service: "forum", ActorID: actorID, Version: "1.2.0"}
}

func (h *harness) stubUpgrade() {
	h.stub(acts.CheckUpgrade, upgradePlan, nil)
	h.stub(acts.SetMaintenance, nil)
	h.stub(acts.MigrateTenant, nil)
	h.stub(acts.SwapVersion, upgradePlan, nil)
	h.stub(acts.WriteTenantModules, nil)
}

// maintenance lists the flags SetMaintenance was called with, in order.
func (h *harness) maintenance() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []bool
	for _, c := range h.calls {
		if c.name == activityName(acts.SetMaintenance) {
			out = append(out, c.in.(activities.MaintenanceInput).On)
		}
	}
	return out
}

func TestUpgradeInstance(t *testing.T) {
	h := newHarness(t)
	h.stubUpgrade()

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res activities.UpgradePlan
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, upgradePlan, res)
	assert.Equal(t, names(acts.CheckUpgrade, acts.SetMaintenance, acts.MigrateTenant, acts.SwapVersion,
		acts.WriteTenantModules, acts.SetMaintenance), h.called(), "drain, migrate, swap, undrain")
	assert.Equal(t, []bool{true, false}, h.maintenance())
	assert.Equal(t, activities.MigrateInput{InstanceID: instanceID, Version: "1.2.0"}, input[activities.MigrateInput](h, acts.MigrateTenant))
	assert.Equal(t, activities.UpgradeInput{InstanceID: instanceID, ActorID: actorID, Version: "1.2.0", At: start},
		input[activities.UpgradeInput](h, acts.SwapVersion), "the swap instant comes from the workflow clock")
	assert.Equal(t, activities.TenantModulesInput{InstanceID: instanceID, Modules: []string{"core", "search"}},
		input[activities.TenantModulesInput](h, acts.WriteTenantModules))

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{
		"validate": workflows.StepDone, "maintenance_on": workflows.StepDone, "migrate": workflows.StepDone,
		"swap": workflows.StepDone, "tenant_settings": workflows.StepDone, "maintenance_off": workflows.StepDone,
	}, states(p))
}

func TestUpgradeMigrationFailureEndsMaintenanceWithoutSwapping(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		err          error
	}{
		// What a migration's SQL error is once its retries are spent: a
		// client would read "internal error", the operator reads the cause.
		{"internal cause", `ERROR: column "pinned" of relation "threads" already exists`,
			temporal.NewNonRetryableApplicationError(`ERROR: column "pinned" of relation "threads" already exists`, "PgError", nil)},
		{"domain error", "the instance's database is unreachable", domainErr(apperr.Conflict("the instance's database is unreachable"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.failAt(acts.MigrateTenant, tc.err)
			h.stubUpgrade()

			h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

			require.True(t, h.env.IsWorkflowCompleted())
			err := h.env.GetWorkflowError()
			require.Error(t, err)
			var app *temporal.ApplicationError
			require.True(t, errors.As(err, &app), "%v", err)
			assert.True(t, app.NonRetryable())
			want := "migrate failed: " + tc.reason + "; the instance stays on 1.1.0"
			assert.Equal(t, want, app.Message())
			assert.NotContains(t, h.called(), activityName(acts.SwapVersion))
			assert.NotContains(t, h.called(), activityName(acts.WriteTenantModules))
			assert.Equal(t, []bool{true, false}, h.maintenance(), "maintenance ends")

			p := h.progress()
			assert.Equal(t, workflows.StatusFailed, p.Status)
			assert.Equal(t, want, p.Error)
			assert.Equal(t, map[string]workflows.StepState{
				"validate": workflows.StepDone, "maintenance_on": workflows.StepDone, "migrate": workflows.StepFailed,
				"swap": workflows.StepSkipped, "tenant_settings": workflows.StepSkipped, "maintenance_off": workflows.StepDone,
			}, states(p))
			assert.Equal(t, tc.reason, step(t, p, "migrate").Error)
		})
	}
}

// A swap that fails after the migration keeps the instance in maintenance:
// its database is ahead of the version it runs.
func TestUpgradeSwapFailureKeepsMaintenance(t *testing.T) {
	h := newHarness(t)
	h.failAt(acts.SwapVersion, domainErr(apperr.Conflict("the instance's database is dirty")))
	h.stubUpgrade()

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	require.True(t, h.env.IsWorkflowCompleted())
	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	assert.True(t, app.NonRetryable())
	assert.Contains(t, app.Message(), "swap failed: the instance's database is dirty; the database is migrated to 1.2.0 but the instance still runs 1.1.0, so it stays in maintenance")
	assert.Contains(t, app.Message(), "workflow reset --workflow-id upgrade/"+instanceID+"/1.2.0")
	assert.Equal(t, []bool{true}, h.maintenance(), "maintenance stays on")
	assert.NotContains(t, h.called(), activityName(acts.WriteTenantModules))
	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, workflows.StepFailed, states(p)["swap"])
}

func TestUpgradeRefusedTouchesNothing(t *testing.T) {
	h := newHarness(t)
	const msg = "forum 1.0.0 is older than the instance's 1.1.0: downgrades are not supported"
	h.failAt(acts.CheckUpgrade, domainErr(apperr.Invalid(msg)))
	h.stubUpgrade()

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
	assert.Equal(t, msg, apperr.Message(err))
	assert.Equal(t, names(acts.CheckUpgrade), h.called(), "no maintenance, no migration")
	assert.Equal(t, msg, h.progress().Error)
}

func TestUpgradeToTheCurrentVersionDoesNothing(t *testing.T) {
	h := newHarness(t)
	h.stub(acts.CheckUpgrade, activities.UpgradePlan{Service: "forum", FromVersion: "1.2.0", Version: "1.2.0", Current: true}, nil)

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	require.NoError(t, h.env.GetWorkflowError())
	assert.Equal(t, names(acts.CheckUpgrade), h.called())
	assert.Equal(t, workflows.StepSkipped, step(t, h.progress(), "migrate").State)
}

func TestUpgradeKeepsThePlanWhenARerunSwapFindsItDone(t *testing.T) {
	h := newHarness(t)
	h.stub(acts.CheckUpgrade, upgradePlan, nil)
	h.stub(acts.SetMaintenance, nil)
	h.stub(acts.MigrateTenant, nil)
	h.stub(acts.SwapVersion, activities.UpgradePlan{Service: "forum", FromVersion: "1.2.0", Version: "1.2.0",
		Current: true, Modules: []string{"core", "search"}}, nil)
	h.stub(acts.WriteTenantModules, nil)

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	require.NoError(t, h.env.GetWorkflowError())
	var res activities.UpgradePlan
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, upgradePlan, res, "the result still says what the upgrade changed")
}
