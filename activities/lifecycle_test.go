package activities_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/testenv"
)

func TestProvisionOpensOneSpanPerModule(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost", "search")
	assert.Equal(t, []span{
		{Module: "core", Started: t0, Rate: 4},
		{Module: "search", Started: t0, Rate: 2},
	}, spans(t, c, inst.ID))
	row := loadInstance(t, c, inst.ID)
	assert.Equal(t, "ready", row.Status)
	assert.True(t, row.HostRegistered)
}

func TestCheckModuleChange(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost", "search")

	change, err := c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"moderation", "attachments"}})
	require.NoError(t, err)
	assert.Equal(t, activities.ModuleChange{
		Modules: []string{"core", "moderation", "attachments"},
		Added:   []string{"moderation", "attachments"},
		Removed: []string{"search"},
	}, change)

	for _, tc := range []struct {
		name    string
		id      string
		modules []string
		want    apperr.Kind
	}{
		{"unknown module", inst.ID, []string{"search", "chat"}, apperr.KindInvalid},
		{"module name with SQL", inst.ID, []string{"search'; DROP TABLE usage_spans;--"}, apperr.KindInvalid},
		{"unknown instance", uuid.NewString(), []string{"search"}, apperr.KindNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: tc.id, Modules: tc.modules})
			assertKind(t, tc.want, err)
		})
	}
	assert.Len(t, spans(t, c, inst.ID), 2, "checking writes nothing")
}

func TestCheckModuleChangeNeedsAReadyInstance(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	provisioning := reserve(t, c, "forum", "new.localhost")
	_, err := c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: provisioning.ID, Modules: []string{"search"}})
	assertKind(t, apperr.KindConflict, err)

	disabled := provision(t, c, "forum", "old.localhost")
	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: disabled.ID, At: at(1), DeleteAfter: at(2)}))
	_, err = c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: disabled.ID, Modules: []string{"search"}})
	assertKind(t, apperr.KindConflict, err)
}

func TestSwitchModulesHandsOverAtOneInstant(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost", "search")
	change, err := c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"moderation"}})
	require.NoError(t, err)

	switchAt := at(5)
	require.NoError(t, c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{
		InstanceID: inst.ID, ActorID: inst.Account.UserID, Modules: change.Modules, At: switchAt,
	}))

	assert.Equal(t, []span{
		{Module: "core", Started: t0, Rate: 4},
		{Module: "search", Started: t0, Ended: &switchAt, Rate: 2},
		{Module: "moderation", Started: switchAt, Rate: 1},
	}, spans(t, c, inst.ID), "search ends exactly when moderation starts; core runs on")
	assert.Equal(t, []string{"core", "moderation"}, loadInstance(t, c, inst.ID).Modules)
	assert.Equal(t, 1, count(t, c, "audit_log WHERE action = 'instance.modules_changed' AND object_id = $1", inst.ID))
}

func TestSwitchModulesRejectsUnknownModules(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost", "search")
	before := snapshot(t, c)
	err := c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"core", "chat"}, At: at(1)})
	assertKind(t, apperr.KindInvalid, err)
	assert.Equal(t, before, snapshot(t, c), "a rejected switch changes nothing")
}

func TestSwitchModulesAfterDisableBillsNothing(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost")
	// The change was checked while the instance was ready, then the
	// instance was disabled before billing switched.
	change, err := c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"search"}})
	require.NoError(t, err)
	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: inst.ID, At: at(1), DeleteAfter: at(9)}))

	err = c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: change.Modules, At: at(2)})
	assertKind(t, apperr.KindConflict, err)
	assert.Empty(t, openModules(spans(t, c, inst.ID)), "a disabled instance must not be billed")
	assert.Equal(t, []string{"core"}, loadInstance(t, c, inst.ID).Modules)
}

func TestDisableAndReenable(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "store", "shop.localhost", "coupons")
	disabledAt, reenabledAt := at(3), at(10)

	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{
		InstanceID: inst.ID, ActorID: inst.Account.UserID, At: disabledAt, DeleteAfter: at(3 + 7*24),
	}))
	row := loadInstance(t, c, inst.ID)
	assert.Equal(t, "disabled", row.Status)
	assert.False(t, row.HostRegistered, "a disabled instance is off its host")
	assert.Equal(t, []span{
		{Module: "core", Started: t0, Ended: &disabledAt, Rate: 5},
		{Module: "coupons", Started: t0, Ended: &disabledAt, Rate: 1},
	}, spans(t, c, inst.ID), "disabling closes every span")
	assert.True(t, databaseExists(t, c, inst.DB.Database), "the data stays during the grace period")

	// The host stays reserved while the instance is disabled.
	_, err := c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{
		InstanceID: uuid.NewString(), AccountID: inst.Account.ID, Service: "store", Host: inst.Host,
	})
	assertKind(t, apperr.KindConflict, err)

	require.NoError(t, c.Acts.ReenableInstance(ctx, activities.ReenableInput{InstanceID: inst.ID, ActorID: inst.Account.UserID, At: reenabledAt}))
	row = loadInstance(t, c, inst.ID)
	assert.Equal(t, "ready", row.Status)
	assert.True(t, row.HostRegistered)
	assert.Equal(t, []span{
		{Module: "core", Started: t0, Ended: &disabledAt, Rate: 5},
		{Module: "coupons", Started: t0, Ended: &disabledAt, Rate: 1},
		{Module: "core", Started: reenabledAt, Rate: 5},
		{Module: "coupons", Started: reenabledAt, Rate: 1},
	}, spans(t, c, inst.ID), "enabling again reopens billing for the same modules")
}

func TestLifecycleRejectsWrongStates(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	provisioning := reserve(t, c, "forum", "new.localhost")
	ready := provision(t, c, "forum", "ready.localhost")
	missing := uuid.NewString()

	assertKind(t, apperr.KindConflict, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: provisioning.ID, At: at(1)}))
	assertKind(t, apperr.KindNotFound, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: missing, At: at(1)}))
	assertKind(t, apperr.KindConflict, c.Acts.ReenableInstance(ctx, activities.ReenableInput{InstanceID: provisioning.ID, At: at(1)}))
	assertKind(t, apperr.KindNotFound, c.Acts.ReenableInstance(ctx, activities.ReenableInput{InstanceID: missing, At: at(1)}))
	assertKind(t, apperr.KindConflict, c.Acts.DeleteInstance(ctx, ready.ref()))
	assertKind(t, apperr.KindConflict, c.Acts.DeleteInstance(ctx, activities.InstanceRef{InstanceID: missing}))
	assertKind(t, apperr.KindNotFound, c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: missing, At: at(1)}))
	assertKind(t, apperr.KindNotFound, c.Acts.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: missing, Modules: []string{"core"}, At: at(1)}))

	require.NoError(t, c.Acts.FailInstance(ctx, activities.FailInstanceInput{InstanceID: provisioning.ID, Reason: "cancelled", At: at(1)}))
	assertKind(t, apperr.KindConflict, c.Acts.MarkReady(ctx, activities.MarkReadyInput{InstanceID: provisioning.ID}))
	assert.Equal(t, "failed", loadInstance(t, c, provisioning.ID).Status, "a failed instance never becomes ready")
	assert.Equal(t, "ready", loadInstance(t, c, ready.ID).Status)
}

func TestDropDatabaseRemovesDatabaseAndRole(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost")
	require.True(t, databaseExists(t, c, inst.DB.Database))
	require.True(t, roleExists(t, c, inst.DB.Role))
	asTenant(t, c, inst.ID) // an open connection does not stop the drop

	require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: inst.ID, At: at(1), DeleteAfter: at(2)}))
	require.NoError(t, c.Acts.DropDatabase(ctx, inst.ref()))
	assert.False(t, databaseExists(t, c, inst.DB.Database))
	assert.False(t, roleExists(t, c, inst.DB.Role))

	require.NoError(t, c.Acts.DeleteInstance(ctx, inst.ref()))
	row := loadInstance(t, c, inst.ID)
	assert.Equal(t, "deleted", row.Status)
	assert.False(t, row.HasCredentials, "a deleted instance forgets its credentials")

	// The host is free again.
	next := provision(t, c, "store", inst.Host)
	assert.Equal(t, "ready", loadInstance(t, c, next.ID).Status)
}

func TestDropDatabaseOfUnallocatedInstance(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := reserve(t, c, "forum", "forum.localhost")
	assert.NoError(t, c.Acts.DropDatabase(ctx, inst.ref()), "nothing was allocated, nothing to drop")
	assert.NoError(t, c.Acts.DropDatabase(ctx, activities.InstanceRef{InstanceID: uuid.NewString()}))
}

func TestFailInstanceReleasesHost(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	doomed := reserve(t, c, "forum", "Acme.localhost", "search")
	var err error
	doomed.DB, err = c.Acts.AllocateDatabase(ctx, doomed.ref())
	require.NoError(t, err)
	require.NoError(t, c.Acts.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: doomed.ID, Modules: doomed.Modules, At: t0}))

	_, err = c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{
		InstanceID: uuid.NewString(), AccountID: doomed.Account.ID, Service: "store", Host: "acme.localhost",
	})
	assertKind(t, apperr.KindConflict, err)

	require.NoError(t, c.Acts.FailInstance(ctx, activities.FailInstanceInput{InstanceID: doomed.ID, Reason: "setup timed out", At: at(1)}))
	row := loadInstance(t, c, doomed.ID)
	assert.Equal(t, "failed", row.Status)
	assert.Equal(t, "setup timed out", *row.FailureReason)
	assert.False(t, row.HasCredentials)
	assert.False(t, row.HostRegistered)
	assert.Empty(t, openModules(spans(t, c, doomed.ID)), "a failed instance is not billed")

	next := provision(t, c, "store", "acme.localhost")
	assert.Equal(t, "ready", loadInstance(t, c, next.ID).Status)
	assert.NoError(t, c.Acts.FailInstance(ctx, activities.FailInstanceInput{InstanceID: uuid.NewString(), Reason: "x", At: at(1)}),
		"failing an instance that was never reserved is a no-op")
}
