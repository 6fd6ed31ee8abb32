package activities_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// secondServer registers the test binary's second cluster as "second".
func secondServer(t *testing.T, c *testenv.Control) string {
	t.Helper()
	id, err := controldb.RegisterServer(ctx, c.DB, c.Cipher, "second", testenv.SecondServerURL(t))
	require.NoError(t, err)
	return id
}

// dbExists says whether database is on the server with the admin URL.
func dbExists(t *testing.T, serverURL, database string) bool {
	t.Helper()
	conn := connect(t, mustParse(t, serverURL))
	var ok bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, database).Scan(&ok))
	return ok
}

func mustParse(t *testing.T, url string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	return cfg
}

func membersOf(t *testing.T, c *testenv.Control, instanceID string) int {
	t.Helper()
	var n int
	require.NoError(t, asTenant(t, c, instanceID).QueryRow(ctx, `SELECT count(*) FROM members`).Scan(&n))
	return n
}

func TestMoveCopiesVerifiesSwitchesAndDropsTheOldCopy(t *testing.T) {
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "moving.localhost")
	to := secondServer(t, c)
	t.Cleanup(func() { _ = c.Acts.DropDatabase(ctx, inst.ref()) }) // wherever it ends
	_, err := asTenant(t, c, inst.ID).Exec(ctx, `INSERT INTO members (email, display_name, password_hash) VALUES ('b@example.com', 'B', 'x')`)
	require.NoError(t, err)
	before := membersOf(t, c, inst.ID)

	plan, err := c.Acts.CheckMove(ctx, activities.MoveInput{InstanceID: inst.ID, ToServer: "second"})
	require.NoError(t, err)
	assert.Equal(t, "local", plan.FromServer)
	assert.Equal(t, to, plan.ToServerID)

	require.NoError(t, c.Acts.CopyTenantDatabase(ctx, plan))
	// A retried copy starts over and ends the same.
	require.NoError(t, c.Acts.CopyTenantDatabase(ctx, plan))
	counts, err := c.Acts.VerifyTenantCopy(ctx, plan)
	require.NoError(t, err)
	assert.Positive(t, counts.Tables)
	assert.Positive(t, counts.Rows)

	var login bool
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`, inst.DB.Role).Scan(&login))
	assert.False(t, login, "nothing writes to the source during the copy")

	require.NoError(t, c.Acts.SwitchServer(ctx, plan))
	require.NoError(t, c.Acts.SwitchServer(ctx, plan), "switching again changes nothing")
	cfg := tenantConfig(t, c, inst.ID)
	assert.Equal(t, mustParse(t, testenv.SecondServerURL(t)).Port, cfg.Port, "the instance runs on the second server")
	assert.Equal(t, before, membersOf(t, c, inst.ID), "with its data, as its own role")

	// The old copy goes after the grace period; not once it is live again.
	require.NoError(t, c.Acts.DropTenantCopy(ctx, activities.DropCopyInput{InstanceID: inst.ID, ServerID: to,
		Database: plan.Database, Role: plan.Role}))
	assert.True(t, dbExists(t, testenv.SecondServerURL(t), plan.Database), "the live copy is kept")
	require.NoError(t, c.Acts.DropTenantCopy(ctx, activities.DropCopyInput{InstanceID: inst.ID, ServerID: plan.FromServerID,
		Database: plan.Database, Role: plan.Role}))
	assert.False(t, dbExists(t, testenv.ServerURL(t), plan.Database), "the old copy is dropped")
	assert.Equal(t, 0, count(t, c, "pg_roles WHERE rolname = $1", plan.Role), "and its role")
}

func TestAbandonedMoveLeavesTheInstanceWhereItWas(t *testing.T) {
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "staying.localhost")
	secondServer(t, c)
	plan, err := c.Acts.CheckMove(ctx, activities.MoveInput{InstanceID: inst.ID, ToServer: "second"})
	require.NoError(t, err)
	require.NoError(t, c.Acts.CopyTenantDatabase(ctx, plan))

	require.NoError(t, c.Acts.AbandonTenantCopy(ctx, plan))
	assert.False(t, dbExists(t, testenv.SecondServerURL(t), plan.Database), "the partial copy is dropped")
	assert.Equal(t, 1, membersOf(t, c, inst.ID), "the source is open to its role again")
}

func TestMoveRefusals(t *testing.T) {
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "refused.localhost")
	secondServer(t, c)
	_, err := controldb.RegisterServer(ctx, c.DB, c.Cipher, "alias", testenv.ServerURL(t))
	require.NoError(t, err)

	for _, tc := range []struct {
		name, to string
		arrange  func()
		kind     apperr.Kind
	}{
		{name: "unknown server", to: "nowhere", kind: apperr.KindNotFound},
		{name: "its own server", to: "local", kind: apperr.KindInvalid},
		{name: "a draining server", to: "second", kind: apperr.KindConflict,
			arrange: func() { require.NoError(t, controldb.SetServerActive(ctx, c.DB, "second", false)) }},
		{name: "a full server", to: "second", kind: apperr.KindConflict, arrange: func() {
			require.NoError(t, controldb.SetServerActive(ctx, c.DB, "second", true))
			_, err := c.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 0 WHERE name = 'second'`)
			require.NoError(t, err)
		}},
		{name: "in maintenance", to: "alias", kind: apperr.KindConflict, arrange: func() {
			require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: inst.ID, On: true}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.arrange != nil {
				tc.arrange()
			}
			_, err := c.Acts.CheckMove(ctx, activities.MoveInput{InstanceID: inst.ID, ToServer: tc.to})
			assert.Equal(t, tc.kind, apperr.KindOf(err), "%v", err)
		})
	}

	// Two names for one cluster: the copy would replace the database.
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: inst.ID, On: false}))
	plan, err := c.Acts.CheckMove(ctx, activities.MoveInput{InstanceID: inst.ID, ToServer: "alias"})
	require.NoError(t, err)
	err = c.Acts.CopyTenantDatabase(ctx, plan)
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err), "%v", err)
	assert.Equal(t, 1, membersOf(t, c, inst.ID), "the database is untouched")
}
