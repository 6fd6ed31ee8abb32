package activities_test

import (
	"context"

	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/testenv"
)

// TestEveryActivityIsIdempotent runs the whole life of two instances (one
// provisioned, disabled and deleted, one failed during provisioning) and
// runs every step twice, as Temporal may after a lost reply: the second run
// must succeed and change nothing.
func TestEveryActivityIsIdempotent(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	a := c.Acts
	signup := signupInput("owner@example.com")
	ref := activities.InstanceRef{InstanceID: uuid.NewString()}
	failed := activities.InstanceRef{InstanceID: uuid.NewString()}
	reserveIn := func(id, host string) activities.ReserveInstanceInput {
		return activities.ReserveInstanceInput{InstanceID: id, AccountID: signup.AccountID, ActorID: signup.UserID,
			Service: "forum", Modules: []string{"search"}, Host: host}
	}
	var db, failedDB activities.DatabaseInfo
	t.Cleanup(func() {
		_ = a.DropDatabase(ctx, ref)
		_ = a.DropDatabase(ctx, failed)
	})

	steps := []struct {
		name string
		run  func() error
	}{
		{"CreateAccount", func() error {
			res, err := a.CreateAccount(ctx, signup)
			assert.Equal(t, activities.CreateAccountResult{AccountID: signup.AccountID, UserID: signup.UserID}, res)
			return err
		}},
		{"ReserveInstance", func() error {
			res, err := a.ReserveInstance(ctx, reserveIn(ref.InstanceID, "forum.localhost"))
			assert.Equal(t, []string{"core", "search"}, res.Modules)
			return err
		}},
		{"AllocateDatabase", func() error {
			info, err := a.AllocateDatabase(ctx, ref)
			if db.Database != "" {
				assert.Equal(t, db, info, "a retry returns the first allocation")
			}
			db = info
			return err
		}},
		{"CreateRole", func() error { return a.CreateRole(ctx, db) }},
		{"CreateDatabase", func() error { return a.CreateDatabase(ctx, db) }},
		{"MigrateTenant", func() error {
			return a.MigrateTenant(ctx, activities.MigrateInput{InstanceID: ref.InstanceID, Version: "1.0.0"})
		}},
		{"SeedTenant", func() error {
			return a.SeedTenant(ctx, activities.SeedInput{InstanceID: ref.InstanceID, Setup: setup(), Modules: []string{"core", "search"}})
		}},
		{"RegisterHost", func() error { return a.RegisterHost(ctx, ref) }},
		{"OpenUsageSpans", func() error {
			return a.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: ref.InstanceID, Modules: []string{"core", "search"}, At: t0})
		}},
		{"MarkReady", func() error {
			return a.MarkReady(ctx, activities.MarkReadyInput{InstanceID: ref.InstanceID, ActorID: signup.UserID})
		}},
		{"WriteTenantModules", func() error {
			return a.WriteTenantModules(ctx, activities.TenantModulesInput{InstanceID: ref.InstanceID, Modules: []string{"core", "moderation"}})
		}},
		{"SwitchModules", func() error {
			return a.SwitchModules(ctx, activities.ModuleChangeInput{InstanceID: ref.InstanceID, ActorID: signup.UserID,
				Modules: []string{"core", "moderation"}, At: at(1)})
		}},
		{"DisableInstance", func() error {
			return a.DisableInstance(ctx, activities.DisableInput{InstanceID: ref.InstanceID, ActorID: signup.UserID, At: at(2), DeleteAfter: at(100)})
		}},
		{"ReenableInstance", func() error {
			return a.ReenableInstance(ctx, activities.ReenableInput{InstanceID: ref.InstanceID, ActorID: signup.UserID, At: at(3)})
		}},
		{"DisableInstance again", func() error {
			return a.DisableInstance(ctx, activities.DisableInput{InstanceID: ref.InstanceID, ActorID: signup.UserID, At: at(4), DeleteAfter: at(5)})
		}},
		{"DropDatabase", func() error { return a.DropDatabase(ctx, ref) }},
		{"DeleteInstance", func() error { return a.DeleteInstance(ctx, ref) }},

		// A second instance fails after its database was made; the enable
		// workflow's compensation drops it and marks the instance failed.
		{"ReserveInstance (to fail)", func() error {
			_, err := a.ReserveInstance(ctx, reserveIn(failed.InstanceID, "doomed.localhost"))
			return err
		}},
		{"AllocateDatabase (to fail)", func() error {
			var err error
			failedDB, err = a.AllocateDatabase(ctx, failed)
			return err
		}},
		{"CreateRole (to fail)", func() error { return a.CreateRole(ctx, failedDB) }},
		{"CreateDatabase (to fail)", func() error { return a.CreateDatabase(ctx, failedDB) }},
		{"OpenUsageSpans (to fail)", func() error {
			return a.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: failed.InstanceID, Modules: []string{"core"}, At: t0})
		}},
		{"DropDatabase (compensation)", func() error { return a.DropDatabase(ctx, failed) }},
		{"FailInstance", func() error {
			return a.FailInstance(ctx, activities.FailInstanceInput{InstanceID: failed.InstanceID, Reason: "migration failed", At: at(1)})
		}},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			require.NoError(t, st.run(), "first run")
			before := snapshot(t, c, db, failedDB)
			require.NoError(t, st.run(), "second run")
			assert.Equal(t, before, snapshot(t, c, db, failedDB), "the second run changed something")
		})
		if !ok {
			break // later steps depend on this one
		}
	}

	// The end state is what the steps promised.
	assert.Equal(t, "deleted", loadInstance(t, c, ref.InstanceID).Status)
	assert.False(t, databaseExists(t, c, db.Database))
	assert.False(t, roleExists(t, c, db.Role))
	assert.Equal(t, "failed", loadInstance(t, c, failed.InstanceID).Status)
	assert.Empty(t, openModules(spans(t, c, ref.InstanceID)))
	assert.Empty(t, openModules(spans(t, c, failed.InstanceID)))
}

// state is everything an activity may change, minus the updated_at
// bookkeeping columns.
type state struct {
	Control map[string]string // table -> its rows as JSON
	Cluster map[string]string // tenant database and role -> their catalog rows
	Tenants map[string]string // tenant database -> its tables' rows
}

func snapshot(t *testing.T, c *testenv.Control, dbs ...activities.DatabaseInfo) state {
	t.Helper()
	s := state{Control: map[string]string{}, Cluster: map[string]string{}, Tenants: map[string]string{}}
	for _, table := range []string{"accounts", "users", "instances", "usage_spans", "audit_log", "database_servers"} {
		s.Control[table] = dumpTable(t, c.DB.QueryRow, table)
	}
	for _, db := range dbs {
		if db.Database == "" {
			continue
		}
		var database, role *string
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT
				(SELECT jsonb_build_object('owner', pg_get_userbyid(datdba), 'acl', datacl::text[], 'limit', datconnlimit)::text
					FROM pg_database WHERE datname = $1),
				(SELECT (to_jsonb(r) - 'rolpassword')::text FROM pg_roles r WHERE rolname = $2)`, db.Database, db.Role).
			Scan(&database, &role))
		s.Cluster["database "+db.Database] = deref(database)
		s.Cluster["role "+db.Role] = deref(role)
		if database != nil {
			s.Tenants[db.Database] = dumpTenant(t, db.Database)
		}
	}
	return s
}

// dumpTenant renders every table of a tenant database, migrations included.
func dumpTenant(t *testing.T, database string) string {
	t.Helper()
	conn := asSuperuser(t, database)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := ""
	for _, table := range tables {
		out += table + ": " + dumpTable(t, conn.QueryRow, table) + "\n"
	}
	return out
}

func dumpTable(t *testing.T, queryRow func(ctx context.Context, sql string, args ...any) pgx.Row, table string) string {
	t.Helper()
	var out string
	require.NoError(t, queryRow(ctx, `SELECT coalesce(jsonb_agg(to_jsonb(x) - 'updated_at' ORDER BY x::text), '[]')::text FROM `+
		pgx.Identifier{table}.Sanitize()+` x`).Scan(&out))
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// A retried CreateRole (the role exists) writes no verifier into the
// server's log: the statement that carries it never fails.
func TestRetriedCreateRoleLogsNoVerifier(t *testing.T) {
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "verifier-forum.localhost")
	require.NoError(t, c.Acts.CreateRole(ctx, inst.DB), "the retry")
	log := testenv.ServerLog(t)
	assert.NotContains(t, log, "SCRAM-SHA-256$")
	assert.NotContains(t, log, inst.DB.Role+" already exists")
}
