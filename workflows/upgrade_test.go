package workflows_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
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

// migrations lists MigrateTenant's inputs, in order.
func (h *harness) migrations() []activities.MigrateInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []activities.MigrateInput
	for _, c := range h.calls {
		if c.name == activityName(acts.MigrateTenant) {
			out = append(out, c.in.(activities.MigrateInput))
		}
	}
	return out
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

// failMigrationTo makes MigrateTenant fail with err when it migrates to
// version, and run as stubbed otherwise (call it before the stub* helpers).
func (h *harness) failMigrationTo(version string, err error) {
	name := activityName(acts.MigrateTenant)
	h.env.OnActivity(acts.MigrateTenant, mock.Anything, activities.MigrateInput{InstanceID: instanceID, Version: version}).
		Run(func(args mock.Arguments) { h.record(name, args.Get(1)) }).
		Return(err).Maybe()
}

// A failed migration is migrated back to the schema of the version the
// instance keeps, then maintenance ends.
func TestUpgradeMigrationFailureRollsBackAndEndsMaintenanceWithoutSwapping(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		err          error
	}{
		// What a migration's SQL error is once its retries are spent: a
		// client would read "internal error", the operator reads the cause.
		{"internal cause", `ERROR: column "pinned" of relation "threads" already exists`,
			temporal.NewNonRetryableApplicationError(`ERROR: column "pinned" of relation "threads" already exists`, "PgError", nil)},
		{"domain error", "the instance's database is unreachable", domainErr(apperr.Conflict("the instance's database is unreachable"))},
		{"a migration that cannot succeed", `migration 000003_x.up.sql of database tenant_ada failed: ERROR: boom (SQLSTATE 42601)`,
			apperr.ForTemporal(apperr.Failed(errors.New(`migration 000003_x.up.sql of database tenant_ada failed: ERROR: boom (SQLSTATE 42601)`),
				"forum 1.2.0 could not be installed on this instance's database: its migration failed on our side, and Tenantry's operators have been told"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.failMigrationTo("1.2.0", tc.err)
			h.stubUpgrade()

			h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

			require.True(t, h.env.IsWorkflowCompleted())
			err := h.env.GetWorkflowError()
			require.Error(t, err)
			var app *temporal.ApplicationError
			require.True(t, errors.As(err, &app), "%v", err)
			assert.True(t, app.NonRetryable())
			want := "migrate failed: " + tc.reason + "; the database is back on 1.1.0's schema and the instance stays on 1.1.0"
			assert.Equal(t, want, app.Message())
			assert.Equal(t, names(acts.CheckUpgrade, acts.SetMaintenance, acts.MigrateTenant, acts.MigrateTenant, acts.SetMaintenance), h.called())
			assert.Equal(t, []activities.MigrateInput{{InstanceID: instanceID, Version: "1.2.0"}, {InstanceID: instanceID, Version: "1.1.0"}},
				h.migrations(), "forward, then back")
			assert.Equal(t, []bool{true, false}, h.maintenance(), "maintenance ends after the roll-back")

			p := h.progress()
			assert.Equal(t, workflows.StatusFailed, p.Status)
			assert.Equal(t, want, p.Error)
			assert.Equal(t, map[string]workflows.StepState{
				"validate": workflows.StepDone, "maintenance_on": workflows.StepDone, "migrate": workflows.StepFailed,
				"swap": workflows.StepSkipped, "tenant_settings": workflows.StepSkipped, "maintenance_off": workflows.StepDone,
				"roll_back": workflows.StepDone,
			}, states(p))
			assert.Equal(t, tc.reason, step(t, p, "migrate").Error)
			assert.Equal(t, "Migrate the database back to 1.1.0", step(t, p, "roll_back").Title)
		})
	}
}

// A roll-back that fails too leaves the database between the two
// versions' schemas: the instance stays in maintenance, and the reason
// says how to retry.
func TestUpgradeRollBackFailureKeepsMaintenance(t *testing.T) {
	h := newHarness(t)
	h.failMigrationTo("1.2.0", domainErr(apperr.Conflict("file 3 failed")))
	h.failMigrationTo("1.1.0", domainErr(apperr.Conflict("down file 2 failed")))
	h.stubUpgrade()

	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())

	var app *temporal.ApplicationError
	require.True(t, errors.As(h.env.GetWorkflowError(), &app))
	assert.Contains(t, app.Message(), "migrate failed: file 3 failed; migrating the database back to 1.1.0's schema failed too (down file 2 failed), so the instance stays in maintenance")
	assert.Contains(t, app.Message(), "workflow reset --workflow-id upgrade/"+instanceID+"/1.2.0 --type LastWorkflowTask")
	assert.Equal(t, []bool{true}, h.maintenance(), "maintenance stays on")
	p := h.progress()
	assert.Equal(t, workflows.StepFailed, step(t, p, "roll_back").State)
	assert.Equal(t, "down file 2 failed", step(t, p, "roll_back").Error)
	assert.Equal(t, workflows.StepSkipped, step(t, p, "maintenance_off").State)
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
