package activities_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
)

// allocated is a reserved instance with its empty database, as the enable
// has it when the setup arrives.
func allocated(t *testing.T, c *testenv.Control, service, host string) instance {
	t.Helper()
	inst := reserve(t, c, service, host)
	var err error
	inst.DB, err = c.Acts.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Acts.DropDatabase(ctx, inst.ref()) })
	require.NoError(t, c.Acts.CreateRole(ctx, inst.DB))
	require.NoError(t, c.Acts.CreateDatabase(ctx, inst.DB))
	return inst
}

// The crash: the worker died after the forum's first migration
// committed but before golang-migrate cleared its dirty flag. The retried
// step finds the file in the ledger, migrates on, and seeds once; a
// second retry (its reply lost) changes nothing.
func TestARetriedMigrateAndSeedAfterACrashAppliesEachFileOnce(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := allocated(t, c, "forum", "crash.example.com")
	cfg := tenantConfig(t, c, inst.ID)
	svc, err := c.Catalog.Service("forum")
	require.NoError(t, err)
	require.NoError(t, migrator.Migrate(ctx, cfg, svc.Migrations, 1))
	conn := asTenant(t, c, inst.ID)
	_, err = conn.Exec(ctx, `UPDATE schema_migrations SET dirty = true`)
	require.NoError(t, err)

	step := activities.MigrateInput{InstanceID: inst.ID, Version: "1.2.0",
		Seed: &activities.SeedInput{InstanceID: inst.ID, Setup: setup(), Modules: []string{"core"}}}
	require.NoError(t, c.Acts.MigrateTenant(ctx, step))
	require.NoError(t, c.Acts.MigrateTenant(ctx, step))

	var version int
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty))
	assert.Equal(t, 3, version)
	assert.False(t, dirty)
	var ledger []int
	require.NoError(t, conn.QueryRow(ctx, `SELECT array_agg(version ORDER BY version) FROM schema_migrations_applied`).Scan(&ledger))
	assert.Equal(t, []int{1, 2, 3}, ledger)
	for _, table := range []string{"members", "posts", "retired_attachments"} {
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok))
		assert.True(t, ok, table)
	}
	var admins, boards int
	require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM members WHERE is_admin), (SELECT count(*) FROM boards)`).Scan(&admins, &boards))
	assert.Equal(t, 1, admins, "one admin")
	assert.Equal(t, 1, boards, "one seeded board")
	assert.Equal(t, `"de"`, tenantSettings(t, conn)["language"])
}

// failure is what a workflow reads of an activity's final error.
func failure(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	assert.True(t, app.NonRetryable())
	assert.Equal(t, string(apperr.KindFailed), app.Type())
	return app
}

// A migration that fails on the database whatever the number of retries
// is final at once: the client reads a sentence, operators the file, line
// and database error; the file rolled back, so the instance keeps its
// schema.
func TestAMigrationThatCannotSucceedIsFinalWithItsCause(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "broken.example.com")
	// Something else made a table of the name 1.1.0 creates.
	su := asSuperuser(t, inst.DB.Database)
	_, err := su.Exec(ctx, `CREATE TABLE attachments (id int)`)
	require.NoError(t, err)

	err = c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.1.0"})
	app := failure(t, err)
	assert.Equal(t, "forum 1.1.0 could not be installed on this instance's database: its migration failed on our side, and Tenantry's operators have been told",
		apperr.Message(err))
	assert.Equal(t, app.Message(), apperr.Message(err))
	assert.Contains(t, apperr.Cause(err), "migration 000002_search_and_attachments.up.sql of database "+inst.DB.Database+
		` failed: ERROR: relation "attachments" already exists (SQLSTATE 42P07)`)

	conn := asTenant(t, c, inst.ID)
	var version int
	var dirty, search bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT version, dirty, EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'posts' AND column_name = 'search')
		FROM schema_migrations`).Scan(&version, &dirty, &search))
	assert.Equal(t, 2, version, "dirty at the version it tried")
	assert.True(t, dirty)
	assert.False(t, search, "the file rolled back")

	// Once an operator removed the stray table, the same step goes on.
	_, err = su.Exec(ctx, `DROP TABLE attachments`)
	require.NoError(t, err)
	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.1.0"}))
	require.NoError(t, conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty))
	assert.Equal(t, 2, version)
	assert.False(t, dirty)
}

// Rows of the instance that break a rule the new version brings are the
// client's to change, and the sentence says which rule; a rule raised
// here by an event trigger, as a constraint the migration adds would.
func TestAMigrationTheInstancesDataBreaksSaysWhy(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "dupes.example.com")
	failEveryStatement(t, inst, `unique_violation USING MESSAGE = 'could not create unique index "boards_title_key"', DETAIL = 'Key (title)=(General) is duplicated.'`)

	err := c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.1.0"})
	failure(t, err)
	assert.Equal(t, `forum 1.1.0 cannot be installed on this instance's database: its data breaks a rule of this version `+
		`(could not create unique index "boards_title_key": Key (title)=(General) is duplicated.). Change that data, then ask for it again`,
		apperr.Message(err))
}

// failEveryStatement makes every DDL statement on the instance's database
// raise the error condition (PL/pgSQL's RAISE arguments), by an event
// trigger.
func failEveryStatement(t *testing.T, inst instance, condition string) {
	t.Helper()
	_, err := asSuperuser(t, inst.DB.Database).Exec(ctx, `
		CREATE FUNCTION refuse() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE `+condition+`; END $$;
		CREATE EVENT TRIGGER refuse ON ddl_command_end EXECUTE FUNCTION refuse();`)
	require.NoError(t, err)
}

// A lost connection or a server going away is worth a retry: not final.
func TestAMigrationCutShortIsRetried(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "cut.example.com")
	failEveryStatement(t, inst, `admin_shutdown USING MESSAGE = 'terminating connection due to administrator command'`)

	err := c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.1.0"})
	require.Error(t, err)
	var app *temporal.ApplicationError
	assert.False(t, errors.As(err, &app), "a plain error, retried: %v", err)
	assert.False(t, migrator.Permanent(err))
}
