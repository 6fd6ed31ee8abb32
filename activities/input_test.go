package activities_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/testenv"
)

func TestSignupWithTakenEmailIsAConflict(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	_, err := c.Acts.CreateAccount(ctx, signupInput("ada@example.com"))
	require.NoError(t, err)
	before := snapshot(t, c)

	for _, email := range []string{"ada@example.com", "  ADA@Example.com "} {
		_, err := c.Acts.CreateAccount(ctx, signupInput(email))
		assertKind(t, apperr.KindConflict, err)
	}
	assert.Equal(t, before, snapshot(t, c), "a refused signup creates nothing")
	assert.Equal(t, 1, count(t, c, "accounts"))
	assert.Equal(t, 1, count(t, c, "users"))
}

func TestSignupRejectsBadInput(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	for _, tc := range []struct {
		name string
		edit func(*activities.CreateAccountInput)
	}{
		{"bad email", func(in *activities.CreateAccountInput) { in.Email = "ada'; DROP TABLE users;--" }},
		{"empty name", func(in *activities.CreateAccountInput) { in.Name = " " }},
		{"empty account name", func(in *activities.CreateAccountInput) { in.AccountName = "" }},
		{"clear password", func(in *activities.CreateAccountInput) { in.PasswordHash = "correct horse battery" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := signupInput("ada@example.com")
			tc.edit(&in)
			_, err := c.Acts.CreateAccount(ctx, in)
			assertKind(t, apperr.KindInvalid, err)
		})
	}
	assert.Equal(t, 0, count(t, c, "accounts"))
}

func TestHostileNamesAreStoredVerbatim(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	in := signupInput("o'brien@example.com")
	in.Name = `O'Brien"; DELETE FROM users; --`
	in.AccountName = `Robert'); DROP TABLE accounts;-- \' $$ $1`
	_, err := c.Acts.CreateAccount(ctx, in)
	require.NoError(t, err)

	var name, accountName, email string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT u.name, a.name, u.email FROM users u JOIN grants g ON g.user_id = u.id JOIN accounts a ON a.id = g.account_id
		WHERE u.id = $1`, in.UserID).Scan(&name, &accountName, &email))
	assert.Equal(t, in.Name, name)
	assert.Equal(t, in.AccountName, accountName)
	assert.Equal(t, "o'brien@example.com", email)

	// The same names reach a tenant's seed intact.
	inst := reserve(t, c, "forum", "forum.localhost")
	var info activities.DatabaseInfo
	info, err = c.Acts.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Acts.DropDatabase(ctx, inst.ref()) })
	require.NoError(t, c.Acts.CreateRole(ctx, info))
	require.NoError(t, c.Acts.CreateDatabase(ctx, info))
	require.NoError(t, c.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: inst.Version}))
	s := setup()
	s.AdminName = `Eve'); DROP TABLE members;--`
	s.AdminEmail = "o'brien@example.com"
	require.NoError(t, c.Acts.SeedTenant(ctx, activities.SeedInput{InstanceID: inst.ID, Setup: s, Modules: inst.Modules}))
	require.NoError(t, asTenant(t, c, inst.ID).QueryRow(ctx, `SELECT display_name, email FROM members`).Scan(&name, &email))
	assert.Equal(t, s.AdminName, name)
	assert.Equal(t, s.AdminEmail, email)

	assertTablesIntact(t, c)
}

func TestHostileReservationsAreInvalid(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	acc := newAccount(t, c)
	for _, tc := range []struct {
		name, service, host string
		modules             []string
	}{
		{"host with SQL", "forum", "x'; DROP TABLE accounts;--.localhost", nil},
		{"host with quote", "forum", "x'--.localhost", nil},
		{"host with space", "forum", "a b.localhost", nil},
		{"bare host", "forum", "localhost", nil},
		{"unknown service", "blog", "blog.localhost", nil},
		{"service with SQL", "forum'; DROP TABLE instances;--", "forum.localhost", nil},
		{"unknown module", "forum", "forum.localhost", []string{"chat"}},
		{"module with SQL", "forum", "forum.localhost", []string{"core'); DROP TABLE usage_spans;--"}},
		{"other service's module", "store", "store.localhost", []string{"search"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: acc.ID, ActorID: acc.UserID,
				Service: tc.service, Modules: tc.modules, Host: tc.host}
			_, err := checkEnable(c.Acts, in)
			assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err), "CheckEnable: %v", err)
			_, err = c.Acts.ReserveInstance(ctx, in)
			assertKind(t, apperr.KindInvalid, err)
		})
	}
	_, err := c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: uuid.NewString(),
		Service: "forum", Host: "forum.localhost"})
	assertKind(t, apperr.KindInvalid, err)

	assert.Equal(t, 0, count(t, c, "instances"))
	assertTablesIntact(t, c)
}

func TestReserveCanonicalisesHost(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	inst := reserve(t, c, "forum", "  Acme-Forum.LOCALHOST. ")
	assert.Equal(t, "acme-forum.localhost", inst.Host)
	assert.Equal(t, "acme-forum.localhost", loadInstance(t, c, inst.ID).Host)
	assert.Equal(t, []string{"core"}, inst.Modules, "the required module is always enabled")

	intl := reserve(t, c, "store", "Bücher.localhost")
	assert.Equal(t, "xn--bcher-kva.localhost", intl.Host)
}

func TestTakenHostIsAConflict(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	first := provision(t, c, "forum", "acme.localhost")
	other := newAccount(t, c)
	before := snapshot(t, c)

	for _, host := range []string{"acme.localhost", "ACME.localhost."} {
		in := activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: other.ID, Service: "store", Host: host}
		_, err := checkEnable(c.Acts, in)
		assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
		_, err = c.Acts.ReserveInstance(ctx, in)
		assertKind(t, apperr.KindConflict, err)
	}
	assert.Equal(t, before, snapshot(t, c), "a refused reservation creates nothing")

	// The owner's own retry is not a conflict.
	_, err := checkEnable(c.Acts, activities.ReserveInstanceInput{InstanceID: first.ID, AccountID: first.Account.ID,
		Service: "forum", Host: "acme.localhost"})
	assert.NoError(t, err)
}

// assertTablesIntact checks that no hostile input dropped a control table.
func assertTablesIntact(t *testing.T, c *testenv.Control) {
	t.Helper()
	for _, table := range []string{"accounts", "users", "instances", "usage_spans", "audit_log", "services", "modules"} {
		var exists bool
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, "public."+table).Scan(&exists))
		assert.True(t, exists, "table %s is gone", table)
	}
	assert.Equal(t, 2, count(t, c, "services"))
}
