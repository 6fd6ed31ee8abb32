package activities_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// TestBindingRole creates a binding's role twice (a retry after a lost
// reply): one password, sealed once, a role that reads the tenant's tables
// and cannot write them; then drops it twice: the role is gone and the
// sealed password erased.
func TestBindingRole(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "bound-forum.localhost", "search")
	binding := uuid.NewString()
	role := "tb_test_" + binding[:8]
	_, err := c.DB.Exec(ctx, `INSERT INTO broker_instances (osb_id, instance_id, account_id, service_id, plan_id, operation)
		VALUES ($1, $2, $3, 's', 'p', 'provision')`, "osb-"+inst.ID, inst.ID, inst.Account.ID)
	require.NoError(t, err)
	_, err = c.DB.Exec(ctx, `INSERT INTO broker_bindings (id, osb_id, instance_osb_id, instance_id, role_name)
		VALUES ($1, $2, $3, $4, $5)`, binding, "b-"+binding, "osb-"+inst.ID, inst.ID, role)
	require.NoError(t, err)
	ref := activities.BindingRef{BindingID: binding}
	sealed := func() []byte {
		var b []byte
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT password_encrypted FROM broker_bindings WHERE id = $1`, binding).Scan(&b))
		return b
	}

	require.NoError(t, c.Acts.CreateBindingRole(ctx, ref))
	first := sealed()
	require.NotNil(t, first)
	require.NoError(t, c.Acts.CreateBindingRole(ctx, ref), "a retry")
	assert.Equal(t, first, sealed(), "a retry keeps the first password")

	password, err := c.Cipher.Open(first, controldb.BindingAAD(binding))
	require.NoError(t, err)
	cfg := tenantConfig(t, c, inst.ID)
	cfg.User, cfg.Password = role, string(password)
	conn := connect(t, cfg)
	var boards int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM boards`).Scan(&boards))
	_, err = conn.Exec(ctx, `INSERT INTO boards (slug, title) VALUES ('nope', 'Nope')`)
	assert.Error(t, err, "the binding may not write")
	conn.Close(ctx)

	require.NoError(t, c.Acts.DropBindingRole(ctx, ref))
	require.NoError(t, c.Acts.DropBindingRole(ctx, ref), "a retry")
	assert.False(t, roleExists(t, c, role))
	assert.Nil(t, sealed())
	var state string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT state FROM broker_bindings WHERE id = $1`, binding).Scan(&state))
	assert.Equal(t, "unbound", state)
	_, err = pgx.ConnectConfig(ctx, cfg)
	assert.Error(t, err, "the dropped role still logs in")
}
