package activities_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

// upgraded is forum provisioned on 1.0.0 with attachments, which 1.2.0
// (schema 3) retires, then migrated to 1.2.0's schema as the workflow does
// before it swaps.
func upgraded(t *testing.T, c *testenv.Control) instance {
	t.Helper()
	inst := provision(t, c, "forum", "forum.localhost", "search", "attachments")
	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.2.0"}))
	return inst
}

func TestSwapVersionClosesTheDroppedModulesAtTheSwapInstant(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := upgraded(t, c)
	listener := listen(t, c)
	swapAt := at(7)

	plan, err := c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: inst.ID, ActorID: inst.Account.UserID, Version: "1.2.0", At: swapAt})
	require.NoError(t, err)
	assert.Equal(t, activities.UpgradePlan{Service: "forum", FromVersion: "1.0.0", Version: "1.2.0",
		Modules: []string{"core", "search"}, Dropped: []string{"attachments"}}, plan)

	assert.Equal(t, []span{
		{Module: "attachments", Started: t0, Ended: &swapAt, Rate: 2},
		{Module: "core", Started: t0, Rate: 4},
		{Module: "search", Started: t0, Rate: 2},
	}, spans(t, c, inst.ID), "only the dropped module's span ends, at the swap instant")
	var version string
	var modules []string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT version, modules FROM instances WHERE id = $1`, inst.ID).Scan(&version, &modules))
	assert.Equal(t, "1.2.0", version)
	assert.Equal(t, []string{"core", "search"}, modules)
	assert.Equal(t, 1, count(t, c, `audit_log WHERE action = 'instance.upgraded' AND object_id = $1`, inst.ID))
	assert.Equal(t, inst.ID, nextNotification(t, listener), "the routers are told")

	// Retried with the same instant: nothing changes, not even a notice.
	before := snapshot(t, c, inst.DB)
	again, err := c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: inst.ID, ActorID: inst.Account.UserID, Version: "1.2.0", At: swapAt})
	require.NoError(t, err)
	assert.True(t, again.Current)
	assert.Equal(t, before, snapshot(t, c, inst.DB), "the second run changed something")
}

func TestSwapVersionRefusals(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := upgraded(t, c)
	swap := func(version string) error {
		_, err := c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: inst.ID, Version: version, At: at(1)})
		return err
	}
	assertKind(t, apperr.KindInvalid, swap("9.9.9"))
	require.NoError(t, swap("1.1.0"))
	err := swap("1.0.0")
	assertKind(t, apperr.KindInvalid, err)
	assert.ErrorContains(t, err, "downgrades are not supported")
	assertKind(t, apperr.KindNotFound, func() error {
		_, err := c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: uuid.NewString(), Version: "1.2.0", At: at(1)})
		return err
	}())

	// A database still on an older schema is not swapped onto a newer one.
	fresh := provision(t, c, "forum", "fresh.localhost", "attachments")
	_, err = c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: fresh.ID, Version: "1.2.0", At: at(1)})
	assertKind(t, apperr.KindConflict, err)
	assert.ErrorContains(t, err, "migrate it first")
	assert.Equal(t, []string{"attachments", "core"}, openModules(spans(t, c, fresh.ID)), "nothing was closed")
}

func TestCheckUpgrade(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost", "moderation", "attachments")
	plan, err := c.Acts.CheckUpgrade(ctx, activities.UpgradeInput{InstanceID: inst.ID, Version: "1.2.0"})
	require.NoError(t, err)
	assert.Equal(t, activities.UpgradePlan{Service: "forum", FromVersion: "1.0.0", Version: "1.2.0",
		Modules: []string{"core", "moderation"}, Dropped: []string{"attachments"}}, plan)
	plan, err = c.Acts.CheckUpgrade(ctx, activities.UpgradeInput{InstanceID: inst.ID, Version: "1.0.0"})
	require.NoError(t, err)
	assert.True(t, plan.Current)

	_, err = c.Acts.CheckUpgrade(ctx, activities.UpgradeInput{InstanceID: inst.ID, Version: "2.0.0"})
	assertKind(t, apperr.KindInvalid, err)
	provisioning := reserve(t, c, "forum", "new.localhost")
	_, err = c.Acts.CheckUpgrade(ctx, activities.UpgradeInput{InstanceID: provisioning.ID, Version: "1.2.0"})
	assertKind(t, apperr.KindConflict, err)
	assert.Len(t, spans(t, c, inst.ID), 3, "checking writes nothing")
}

func TestModulesAVersionDoesNotOfferAreRefused(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := upgraded(t, c)
	_, err := c.Acts.SwapVersion(ctx, activities.UpgradeInput{InstanceID: inst.ID, Version: "1.2.0", At: at(1)})
	require.NoError(t, err)

	_, err = c.Acts.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"search", "attachments"}})
	assertKind(t, apperr.KindInvalid, err)
	assert.ErrorContains(t, err, `forum 1.2.0 does not offer the module "attachments"`)
	// A change checked before the swap is refused when it lands after it.
	err = c.Acts.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: inst.ID, Modules: []string{"core", "search", "attachments"}, At: at(2)})
	assertKind(t, apperr.KindInvalid, err)
	assert.Equal(t, []string{"core", "search"}, openModules(spans(t, c, inst.ID)))

	// Enable offers what the current version offers.
	newForum := withCurrentForum(t, c, "1.2.0")
	_, err = checkEnable(newForum, activities.ReserveInstanceInput{InstanceID: uuid.NewString(), Service: "forum",
		Modules: []string{"attachments"}, Host: "new.localhost"})
	assertKind(t, apperr.KindInvalid, err)
	res, err := checkEnable(newForum, activities.ReserveInstanceInput{InstanceID: uuid.NewString(), Service: "forum",
		Modules: []string{"search"}, Host: "new.localhost"})
	require.NoError(t, err)
	assert.Equal(t, "1.2.0", res.Version)
}

// withCurrentForum wires the activities to the real catalog with forum's
// current version moved to version.
func withCurrentForum(t *testing.T, c *testenv.Control, version string) *activities.Activities {
	t.Helper()
	files := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(schemas.Services(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(schemas.Services(), path)
		if path == "forum/manifest.json" {
			data = []byte(strings.Replace(string(data), `"current_version": "1.0.0"`, `"current_version": "`+version+`"`, 1))
		}
		files[path] = &fstest.MapFile{Data: data}
		return err
	}))
	cat, err := catalog.Load(files)
	require.NoError(t, err)
	svc, _ := cat.Service("forum")
	require.Equal(t, version, svc.CurrentVersion)
	return activities.New(c.DB, cat, c.Cipher)
}

// listen subscribes to the routers' channel on the control database.
func listen(t *testing.T, c *testenv.Control) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.URL)
	require.NoError(t, err)
	conn := connect(t, cfg)
	_, err = conn.Exec(ctx, `LISTEN instance_changed`)
	require.NoError(t, err)
	return conn
}

// nextNotification waits (briefly) for the next instance_changed payload.
func nextNotification(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	require.NoError(t, err)
	return n.Payload
}
