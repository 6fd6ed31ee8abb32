package controldb_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

// TestFleetMigrationUpDownUp: migration 65 adds the servers' last check
// and a capacity that cannot go below zero, and its down removes them.
func TestFleetMigrationUpDownUp(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t, "fleet_")
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	columns := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_name = 'database_servers' AND column_name IN ('checked_at', 'check_problems')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, step := range []struct {
		version uint
		want    int
	}{{65, 2}, {42, 0}, {65, 2}} {
		if err := migrator.Migrate(ctx, cfg, schemas.Control(), step.version); err != nil {
			t.Fatalf("migrate to %d: %v", step.version, err)
		}
		if got := columns(); got != step.want {
			t.Fatalf("at %d: %d of the fleet's columns, want %d", step.version, got, step.want)
		}
	}
	_, err = db.Exec(ctx, `INSERT INTO database_servers (id, name, host, port, admin_dsn_encrypted, max_instances)
		VALUES (gen_random_uuid(), 'negative', 'h', 5432, '\x00', -1)`)
	if err == nil {
		t.Fatal("a negative capacity was accepted")
	}
}
