package controldb_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"tenantry/internal/controldb"
	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

// Start-up migrates the control database with the tenants' migrator: a
// crash left behind by an earlier start is carried on, whichever point it
// struck, and every control migration goes down and up again.
func TestStartUpCarriesOnAfterACrashedMigration(t *testing.T) {
	ctx := context.Background()
	versions, err := migrator.Versions(schemas.Control())
	require.NoError(t, err)
	last := versions[len(versions)-1]
	before := versions[len(versions)-2]

	state := func(t *testing.T, db *pgx.Conn) (version int, dirty bool, ledger []uint) {
		t.Helper()
		require.NoError(t, db.QueryRow(ctx, `SELECT version, dirty, (SELECT array_agg(version ORDER BY version) FROM schema_migrations_applied)
			FROM schema_migrations`).Scan(&version, &dirty, &ledger))
		return version, dirty, ledger
	}
	for _, tc := range []struct {
		name  string
		crash func(t *testing.T, cfg *pgx.ConnConfig, db *pgx.Conn)
	}{
		{"a start from before the ledger, killed before its last file committed", func(t *testing.T, cfg *pgx.ConnConfig, db *pgx.Conn) {
			require.NoError(t, migrator.Migrate(ctx, cfg, schemas.Control(), before))
			_, err := db.Exec(ctx, `DROP TABLE schema_migrations_applied`)
			require.NoError(t, err)
			_, err = db.Exec(ctx, `UPDATE schema_migrations SET version = $1, dirty = true`, last)
			require.NoError(t, err)
		}},
		{"killed after its last file committed, the version still dirty", func(t *testing.T, cfg *pgx.ConnConfig, db *pgx.Conn) {
			require.NoError(t, migrator.Migrate(ctx, cfg, schemas.Control(), migrator.Latest))
			_, err := db.Exec(ctx, `UPDATE schema_migrations SET dirty = true`)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, cfg, db := emptyDatabase(t)
			tc.crash(t, cfg, db)

			require.NoError(t, controldb.Migrate(ctx, url))
			version, dirty, ledger := state(t, db)
			require.Equal(t, int(last), version)
			require.False(t, dirty)
			require.Equal(t, versions, ledger)
		})
	}

	t.Run("every migration down to the first and up again", func(t *testing.T) {
		url, cfg, db := emptyDatabase(t)
		require.NoError(t, controldb.Migrate(ctx, url))
		require.NoError(t, migrator.Migrate(ctx, cfg, schemas.Control(), versions[0]))
		version, dirty, ledger := state(t, db)
		require.Equal(t, int(versions[0]), version)
		require.False(t, dirty)
		require.Equal(t, versions[:1], ledger)
		require.NoError(t, controldb.Migrate(ctx, url))
		_, _, ledger = state(t, db)
		require.Equal(t, versions, ledger)
	})
}

// emptyDatabase is a new database: its URL, its settings and a connection
// that closes when the test ends.
func emptyDatabase(t *testing.T) (string, *pgx.ConnConfig, *pgx.Conn) {
	t.Helper()
	url := testenv.NewDatabase(t, "startup_")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	db, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close(context.Background()) })
	return url, cfg, db
}
