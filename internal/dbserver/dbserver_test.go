package dbserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/dbserver"
	"tenantry/internal/testenv"
)

// This package's tests own their cluster (one per test binary), so they
// may open and close its maintenance database.
func TestMain(m *testing.M) { testenv.Main(m) }

var ctx = context.Background()

func superuser(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(t, testenv.ServerURL(t), database))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func publicCan(t *testing.T, conn *pgx.Conn, database string) bool {
	t.Helper()
	var can bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT has_database_privilege('public', $1, 'CONNECT')`, database).Scan(&can))
	return can
}

func TestCheckClosesEveryDatabaseToPublic(t *testing.T) {
	su := superuser(t, "postgres")
	_, err := su.Exec(ctx, "GRANT CONNECT, TEMPORARY ON DATABASE postgres TO PUBLIC")
	require.NoError(t, err)
	other := strings.TrimPrefix(testenv.NewDatabase(t, "someone_elses_"), "")
	otherName := other[strings.LastIndex(other, "/")+1:]
	require.True(t, publicCan(t, su, otherName), "a new database is open to PUBLIC")

	check := dbserver.CheckServer(ctx, su)
	assert.True(t, check.OK(), "problems: %v", check.Problems)
	assert.NotEmpty(t, check.Version)
	for _, db := range []string{"postgres", "template1", otherName} {
		assert.False(t, publicCan(t, su, db), "PUBLIC can still connect to %s", db)
	}
}

// An admin role that may create roles and databases but owns none of the
// others cannot close them: the check says which, and that a superuser
// must.
func TestCheckNamesWhatANonSuperuserCannotClose(t *testing.T) {
	su := superuser(t, "postgres")
	_, err := su.Exec(ctx, "GRANT CONNECT ON DATABASE postgres TO PUBLIC")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = su.Exec(ctx, "REVOKE CONNECT ON DATABASE postgres FROM PUBLIC") })
	role := "admin_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	_, err = su.Exec(ctx, "CREATE ROLE "+role+" LOGIN CREATEROLE CREATEDB PASSWORD 'admin-password-123'")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = su.Exec(ctx, "DROP OWNED BY "+role+"; DROP ROLE IF EXISTS "+role) })
	cfg, err := pgx.ParseConfig(testenv.WithDatabase(t, testenv.ServerURL(t), "postgres"))
	require.NoError(t, err)
	cfg.User, cfg.Password = role, "admin-password-123"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer admin.Close(ctx)

	check := dbserver.CheckServer(ctx, admin)
	require.False(t, check.OK())
	assert.Contains(t, strings.Join(check.Problems, " "), "PUBLIC can still connect to postgres")
	assert.True(t, publicCan(t, su, "postgres"))
}

func TestCopyKeepsSchemaAndData(t *testing.T) {
	su := superuser(t, "postgres")
	role := "tenant_" + strings.ReplaceAll(uuid.NewString()[:12], "-", "")
	_, err := su.Exec(ctx, "CREATE ROLE "+role+" LOGIN")
	require.NoError(t, err)
	from, to := role+"_a", role+"_b"
	for _, db := range []string{from, to} {
		_, err := su.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+role)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		for _, db := range []string{from, to} {
			_, _ = su.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
		_, _ = su.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	})
	src := superuser(t, from)
	_, err = src.Exec(ctx, `SET ROLE `+role+`;
		CREATE TABLE boards (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
		CREATE TABLE posts (id bigserial PRIMARY KEY, board int REFERENCES boards, body text);
		INSERT INTO boards (name) SELECT 'b' || g FROM generate_series(1, 5) g;
		INSERT INTO posts (board, body) SELECT 1 + g % 5, repeat('x', g) FROM generate_series(1, 300) g;`)
	require.NoError(t, err)

	fromCfg, err := pgx.ParseConfig(testenv.WithDatabase(t, testenv.ServerURL(t), from))
	require.NoError(t, err)
	toCfg, err := pgx.ParseConfig(testenv.WithDatabase(t, testenv.ServerURL(t), to))
	require.NoError(t, err)
	require.NoError(t, dbserver.Copy(ctx, fromCfg, toCfg, role))

	var tables []string
	want, err := dbserver.CountRows(ctx, src, func(table string) { tables = append(tables, table) })
	require.NoError(t, err)
	assert.Equal(t, []string{"public.boards", "public.posts"}, tables)
	dst := superuser(t, to)
	got, err := dbserver.CountRows(ctx, dst, func(string) {})
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"public.boards": 5, "public.posts": 300}, got)
	assert.Empty(t, dbserver.CompareCounts(want, got))

	var owner string
	require.NoError(t, dst.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE tablename = 'posts'`).Scan(&owner))
	assert.Equal(t, role, owner, "the copy belongs to the tenant's role")
	var next int64
	require.NoError(t, dst.QueryRow(ctx, `SELECT nextval('posts_id_seq')`).Scan(&next))
	assert.Equal(t, int64(301), next, "sequences carry on")

	_, err = dst.Exec(ctx, `DELETE FROM posts WHERE id <= 2`)
	require.NoError(t, err)
	got, err = dbserver.CountRows(ctx, dst, func(string) {})
	require.NoError(t, err)
	assert.Equal(t, "public.posts has 298 rows instead of 300", dbserver.CompareCounts(want, got))
}
