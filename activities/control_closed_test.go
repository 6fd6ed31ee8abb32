package activities_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/testenv"
)

// A tenant's role may not even connect to the control database, where every
// tenant's (encrypted) credentials live.
func TestTenantRoleCannotConnectToControlDatabase(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "closed-control.localhost")
	cfg := tenantConfig(t, c, inst.ID)
	control, err := pgx.ParseConfig(c.URL)
	require.NoError(t, err)
	cfg.Database = control.Database
	_, err = pgx.ConnectConfig(ctx, cfg)
	require.Error(t, err)
	assert.Equal(t, "42501", pgCode(err), "insufficient_privilege: %v", err)
}
