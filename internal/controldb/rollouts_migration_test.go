package controldb_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

// The rollouts and job holds migrations (50, 53) go down and up again.
func TestRolloutMigrationsDownAndUp(t *testing.T) {
	cfg, err := pgx.ParseConfig(testenv.NewDatabase(t, "rollouts_"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint{migrator.Latest, 42, migrator.Latest} {
		if err := migrator.Migrate(ctx, cfg, schemas.Control(), v); err != nil {
			t.Fatalf("migrate to %d: %v", v, err)
		}
	}
}
