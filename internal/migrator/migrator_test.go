package migrator_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A process that dies after a migration file committed but before
// golang-migrate marked its version clean leaves the file applied and the
// version clean, so the retry goes on instead of running the file twice.
// The crash is staged by a trigger that makes golang-migrate's own version
// update fail, the step a SIGKILL would skip.
func TestCrashAfterAFileCommittedRetriesCleanly(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t, "migrator_")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	src := fstest.MapFS{
		"1_first.up.sql": {Data: []byte(`
			CREATE TABLE first (id int);
			CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'killed'; END $$;
			CREATE TRIGGER crash BEFORE TRUNCATE ON schema_migrations EXECUTE FUNCTION crash();`)},
		"1_first.down.sql":  {Data: []byte(`DROP TABLE first; DROP FUNCTION crash() CASCADE;`)},
		"2_second.up.sql":   {Data: []byte(`CREATE TABLE second (id int);`)},
		"2_second.down.sql": {Data: []byte(`DROP TABLE second;`)},
	}
	require.Error(t, migrator.Migrate(cfg, src, 1), "the staged crash")
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP TRIGGER crash ON schema_migrations`)
	require.NoError(t, err)

	require.NoError(t, migrator.Migrate(cfg, src, migrator.Latest), "the retry")
	var version int
	var dirty bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty))
	require.Equal(t, 2, version)
	require.False(t, dirty)
}
