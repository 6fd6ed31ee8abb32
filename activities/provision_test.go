package activities_test

import (
	"bytes"
	"encoding/json"
	"github.com/google/uuid"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
)

func TestProvisionedDatabaseBelongsToItsTenant(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "acme-forum.localhost", "search")

	assert.Equal(t, "tenant_"+stripDashes(inst.ID), inst.DB.Database)
	assert.Equal(t, inst.DB.Database, inst.DB.Role)

	var owner string
	var connLimit int
	var publicCanConnect bool
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), datconnlimit,
			has_database_privilege('public', oid, 'CONNECT') FROM pg_database WHERE datname = $1`, inst.DB.Database).
		Scan(&owner, &connLimit, &publicCanConnect))
	assert.Equal(t, inst.DB.Role, owner, "the tenant's role owns its database")
	assert.Equal(t, 20, connLimit)
	assert.False(t, publicCanConnect, "PUBLIC must not be able to connect")

	var login, super, createDB, createRole bool
	var verifier string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword
			FROM pg_authid WHERE rolname = $1`, inst.DB.Role).Scan(&login, &super, &createDB, &createRole, &verifier))
	assert.True(t, login)
	assert.False(t, super || createDB || createRole, "the tenant role holds no cluster privileges")
	assert.Regexp(t, `^SCRAM-SHA-256\$4096:`, verifier, "only a SCRAM verifier reaches the server")

	var user, database string
	require.NoError(t, asTenant(t, c, inst.ID).QueryRow(ctx, `SELECT current_user, current_database()`).Scan(&user, &database))
	assert.Equal(t, inst.DB.Role, user)
	assert.Equal(t, inst.DB.Database, database)
}

func TestOtherRolesCannotConnect(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	a := provision(t, c, "forum", "a.localhost")
	b := provision(t, c, "store", "b.localhost")

	t.Run("another tenant's role", func(t *testing.T) {
		cfg := tenantConfig(t, c, a.ID)
		cfg.Database = b.DB.Database
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
		}
		require.Error(t, err, "A's role connected to B's database")
		assert.Equal(t, "42501", pgCode(err), "want permission denied, got %v", err)
		assert.ErrorContains(t, err, "permission denied")
	})

	// Registering the server closed every database Tenantry does not own
	// to PUBLIC: a tenant's role reaches its own database only.
	for _, other := range []string{"postgres", "template1", "the control database"} {
		t.Run("the database "+other, func(t *testing.T) {
			cfg := tenantConfig(t, c, a.ID)
			cfg.Database = other
			if other == "the control database" {
				control, err := pgx.ParseConfig(c.URL)
				require.NoError(t, err)
				cfg.Database = control.Database
			}
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err == nil {
				conn.Close(ctx)
			}
			require.Error(t, err, "A's role connected to %s", cfg.Database)
			assert.Equal(t, "42501", pgCode(err), "want permission denied, got %v", err)
		})
	}

	t.Run("a role with only PUBLIC's rights", func(t *testing.T) {
		outsider := "outsider_" + stripDashes(a.ID)[:12]
		_, err := c.DB.Exec(ctx, "CREATE ROLE "+outsider+" LOGIN PASSWORD 'outsider-password'")
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = c.DB.Exec(ctx, "DROP ROLE IF EXISTS "+outsider) })
		cfg := tenantConfig(t, c, b.ID)
		cfg.User, cfg.Password = outsider, "outsider-password"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
		}
		assert.Equal(t, "42501", pgCode(err), "want permission denied, got %v", err)
	})

	t.Run("wrong password", func(t *testing.T) {
		cfg := tenantConfig(t, c, a.ID)
		cfg.Password = "not-the-password"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
		}
		assert.Equal(t, "28P01", pgCode(err), "want invalid password, got %v", err)
	})
}

func TestMigrationsAndSeedApplied(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	for _, tc := range []struct {
		service     string
		modules     []string
		tables      []string
		adminTable  string
		wantModules []string
	}{
		{"forum", []string{"moderation"}, []string{"tenant_settings", "members", "boards", "threads", "posts"}, "members", []string{"core", "moderation"}},
		{"store", nil, []string{"tenant_settings", "customers", "products", "orders", "order_lines"}, "customers", []string{"core"}},
	} {
		t.Run(tc.service, func(t *testing.T) {
			inst := provision(t, c, tc.service, tc.service+".example.com", tc.modules...)
			svc, err := c.Catalog.Service(tc.service)
			require.NoError(t, err)
			current, err := svc.Version(svc.CurrentVersion)
			require.NoError(t, err)
			assert.Equal(t, current.Version, inst.Version)

			conn := asTenant(t, c, inst.ID)
			for _, table := range tc.tables {
				var owner string
				err := conn.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, table).Scan(&owner)
				require.NoError(t, err, "table %s is missing", table)
				assert.Equal(t, inst.DB.Role, owner, "the tenant's role owns %s", table)
			}

			var version int
			var dirty bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty))
			assert.Equal(t, int(current.SchemaVersion), version)
			assert.False(t, dirty)

			var email, name, hash string
			var admin bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT email, display_name, password_hash, is_admin FROM `+tc.adminTable).
				Scan(&email, &name, &hash, &admin))
			assert.Equal(t, "admin@example.com", email, "the admin's email is stored normalised")
			assert.Equal(t, "Ada Admin", name)
			assert.Equal(t, adminHash(), hash)
			assert.True(t, secret.VerifyPassword(hash, adminPassword))
			assert.True(t, admin)

			settings := tenantSettings(t, conn)
			assert.Equal(t, `"de"`, settings["language"])
			assert.JSONEq(t, mustJSON(t, tc.wantModules), settings["modules"])
		})
	}
}

func TestMigrateTenantUpAndDown(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "forum.localhost")
	conn := asTenant(t, c, inst.ID)
	schemaVersion := func() int {
		var v int
		require.NoError(t, conn.QueryRow(ctx, `SELECT version FROM schema_migrations`).Scan(&v))
		return v
	}
	hasAttachments := func() bool {
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass('public.attachments') IS NOT NULL`).Scan(&ok))
		return ok
	}
	require.False(t, hasAttachments())

	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.1.0"}))
	assert.Equal(t, 2, schemaVersion())
	assert.True(t, hasAttachments())

	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "1.0.0"}))
	assert.Equal(t, 1, schemaVersion())
	assert.False(t, hasAttachments())

	err := c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: "9.9.9"})
	assertKind(t, apperr.KindInvalid, err)
}

func TestWriteTenantModules(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := provision(t, c, "store", "shop.localhost")
	modules := []string{"core", "coupons", "reviews"}
	require.NoError(t, c.Acts.WriteTenantModules(ctx, activities.TenantModulesInput{InstanceID: inst.ID, Modules: modules}))
	settings := tenantSettings(t, asTenant(t, c, inst.ID))
	assert.JSONEq(t, mustJSON(t, modules), settings["modules"])
	assert.Equal(t, `"de"`, settings["language"], "other settings are kept")
}

func TestCredentialsStoredEncrypted(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	a := provision(t, c, "forum", "a.localhost")
	b := provision(t, c, "forum", "b.localhost")
	password := tenantConfig(t, c, a.ID).Password
	require.Regexp(t, `^[0-9a-f]{48}$`, password)
	assert.NotEqual(t, password, tenantConfig(t, c, b.ID).Password, "every tenant has its own password")

	var sealed []byte
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT credentials_encrypted FROM instances WHERE id = $1`, a.ID).Scan(&sealed))
	assert.False(t, bytes.Contains(sealed, []byte(password)), "credentials_encrypted holds the clear password")

	var everything string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT (SELECT jsonb_agg(i)::text FROM instances i) || (SELECT jsonb_agg(l)::text FROM audit_log l)`).
		Scan(&everything))
	assert.NotContains(t, everything, password, "the clear password is stored somewhere in the control database")

	// A sealed value copied onto another instance does not decrypt there.
	_, err := c.DB.Exec(ctx, `UPDATE instances SET credentials_encrypted = $2 WHERE id = $1`, b.ID, sealed)
	require.NoError(t, err)
	_, _, err = controldb.TenantConfig(ctx, c.Acts.DB, c.Acts.Cipher, c.Acts.Catalog, b.ID)
	assert.Error(t, err)
}

func tenantSettings(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT key, value::text FROM tenant_settings`)
	require.NoError(t, err)
	out := map[string]string{}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	require.NoError(t, err)
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func stripDashes(id string) string { return strings.ReplaceAll(id, "-", "") }

func TestAllocateDatabasePicksLeastLoadedServer(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	first := provision(t, c, "forum", "a.localhost")
	second, err := controldb.RegisterServer(ctx, c.DB, c.Cipher, "second", testenv.ServerURL(t))
	require.NoError(t, err)
	require.NotEqual(t, first.DB.ServerID, second)

	inst := reserve(t, c, "forum", "b.localhost")
	info, err := c.Acts.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err)
	assert.Equal(t, second, info.ServerID, "the empty server takes the next tenant")
}

func TestAllocateDatabaseWaitsForRoom(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, err := c.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 0`)
	require.NoError(t, err)
	inst := reserve(t, c, "forum", "a.localhost")

	full, err := c.Acts.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err, "a full fleet is a wait, not a failure")
	assert.True(t, full.NoRoom)
	assert.Empty(t, full.ServerID)

	_, err = c.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 10`)
	require.NoError(t, err)
	info, err := c.Acts.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err)
	assert.NotEmpty(t, info.ServerID)
	_, _, err = controldb.TenantConfig(ctx, c.Acts.DB, c.Acts.Cipher, c.Acts.Catalog, inst.ID)
	assert.NoError(t, err)
}

// TestPlacementByLoad places each tenant on the active server with room
// whose share of its capacity is the smallest, and waits when none has
// room or the others drain.
func TestPlacementByLoad(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, err := c.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 2 WHERE name = 'local'`)
	require.NoError(t, err)
	big, err := controldb.RegisterServerWithCapacity(ctx, c.DB, c.Cipher, "big", testenv.ServerURL(t), 4)
	require.NoError(t, err)
	var local string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT id FROM database_servers WHERE name = 'local'`).Scan(&local))

	place := func() activities.DatabaseInfo {
		t.Helper()
		info, err := c.Acts.AllocateDatabase(ctx, reserve(t, c, "forum", uuid.NewString()[:8]+".localhost").ref())
		require.NoError(t, err)
		return info
	}
	// 0/2 vs 0/4: the older; then the lower share (½ vs 0, ½ vs ¼), then
	// the one with fewer instances at equal shares (1/2 vs 2/4).
	for i, want := range []string{local, big, big, local, big, big} {
		assert.Equal(t, want, place().ServerID, "tenant %d", i+1)
	}
	assert.True(t, place().NoRoom, "both full")

	require.NoError(t, controldb.SetServerActive(ctx, c.DB, "local", false))
	_, err = c.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 10`)
	require.NoError(t, err)
	assert.Equal(t, big, place().ServerID, "a draining server takes no tenant")
	require.NoError(t, controldb.SetServerActive(ctx, c.DB, "big", false))
	assert.True(t, place().NoRoom, "every server drains")
}
