package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var ctx = context.Background()

// t0 is when test instances start billing; later instants are t0 plus hours.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(hours int) time.Time { return t0.Add(time.Duration(hours) * time.Hour) }

const adminPassword = "correct horse battery"

// adminHash is hashed once: argon2id is slow by design.
var adminHash = sync.OnceValue(func() string { return secret.HashPassword(adminPassword) })

func setup() activities.Setup {
	return activities.Setup{AdminEmail: "Admin@Example.com", AdminName: "Ada Admin", AdminPasswordHash: adminHash(), Language: "de"}
}

// account is a signed-up account and its owner.
type account struct {
	ID, UserID, Email string
}

func signupInput(email string) activities.CreateAccountInput {
	return activities.CreateAccountInput{
		AccountID: uuid.NewString(), UserID: uuid.NewString(), Email: email,
		Name: "Ada Lovelace", AccountName: "Acme", PasswordHash: adminHash(),
	}
}

func newAccount(t *testing.T, c *testenv.Control) account {
	t.Helper()
	in := signupInput("owner-" + uuid.NewString()[:8] + "@example.com")
	res, err := c.Acts.CreateAccount(ctx, in)
	require.NoError(t, err)
	return account{ID: res.AccountID, UserID: res.UserID, Email: in.Email}
}

// instance is a provisioned service instance.
type instance struct {
	ID      string
	Account account
	Service string
	Host    string
	Version string
	Modules []string
	DB      activities.DatabaseInfo
}

func (i instance) ref() activities.InstanceRef { return activities.InstanceRef{InstanceID: i.ID} }

// reserve records a new instance for a new account without provisioning it.
func reserve(t *testing.T, c *testenv.Control, service, host string, modules ...string) instance {
	t.Helper()
	acc := newAccount(t, c)
	in := activities.ReserveInstanceInput{
		InstanceID: uuid.NewString(), AccountID: acc.ID, ActorID: acc.UserID,
		Service: service, Modules: modules, Host: host,
	}
	res, err := c.Acts.ReserveInstance(ctx, in)
	require.NoError(t, err)
	return instance{ID: in.InstanceID, Account: acc, Service: service, Host: res.Host, Version: res.Version, Modules: res.Modules}
}

// provision runs every provisioning step the enable workflow runs, in its
// order, billing from t0. The tenant's database and role are dropped when
// the test ends.
func provision(t *testing.T, c *testenv.Control, service, host string, modules ...string) instance {
	t.Helper()
	inst := reserve(t, c, service, host, modules...)
	a := c.Acts
	var err error
	inst.DB, err = a.AllocateDatabase(ctx, inst.ref())
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.DropDatabase(ctx, inst.ref()) })
	require.NoError(t, a.CreateRole(ctx, inst.DB))
	require.NoError(t, a.CreateDatabase(ctx, inst.DB))
	require.NoError(t, a.MigrateTenant(ctx, activities.MigrateInput{InstanceID: inst.ID, Version: inst.Version}))
	require.NoError(t, a.SeedTenant(ctx, activities.SeedInput{InstanceID: inst.ID, Setup: setup(), Modules: inst.Modules}))
	require.NoError(t, a.RegisterHost(ctx, inst.ref()))
	require.NoError(t, a.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: inst.ID, Modules: inst.Modules, At: t0}))
	require.NoError(t, a.MarkReady(ctx, activities.MarkReadyInput{InstanceID: inst.ID, ActorID: inst.Account.UserID}))
	return inst
}

// checkEnable is the front ends' check of an enable request, with a's
// catalog: the check ReserveInstance runs as the authority.
func checkEnable(a *activities.Activities, in activities.ReserveInstanceInput) (activities.ReserveInstanceResult, error) {
	return controldb.CheckEnable(ctx, a.DB, a.Catalog, controldb.EnableRequest{
		InstanceID: in.InstanceID, Service: in.Service, Modules: in.Modules, Host: in.Host})
}

// tenantConfig is the instance's own connection settings.
func tenantConfig(t *testing.T, c *testenv.Control, instanceID string) *pgx.ConnConfig {
	t.Helper()
	cfg, _, err := controldb.TenantConfig(ctx, c.Acts.DB, c.Acts.Cipher, c.Acts.Catalog, instanceID)
	require.NoError(t, err)
	return cfg
}

// connect opens a connection that closes when the test ends.
func connect(t *testing.T, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// asTenant connects to the instance's database as its own role.
func asTenant(t *testing.T, c *testenv.Control, instanceID string) *pgx.Conn {
	t.Helper()
	return connect(t, tenantConfig(t, c, instanceID))
}

// asSuperuser connects to database on the test cluster as its superuser.
func asSuperuser(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.WithDatabase(t, testenv.ServerURL(t), database))
	require.NoError(t, err)
	return connect(t, cfg)
}

// pgCode is the SQLSTATE of a server error, or "" for any other error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// count counts rows in the control database: count(t, c, "users WHERE ...").
func count(t *testing.T, c *testenv.Control, from string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, c.DB.QueryRow(ctx, "SELECT count(*) FROM "+from, args...).Scan(&n))
	return n
}

func databaseExists(t *testing.T, c *testenv.Control, name string) bool {
	return count(t, c, "pg_database WHERE datname = $1", name) == 1
}

func roleExists(t *testing.T, c *testenv.Control, name string) bool {
	return count(t, c, "pg_roles WHERE rolname = $1", name) == 1
}

// span is one usage span as billing reads it.
type span struct {
	Module  string
	Started time.Time
	Ended   *time.Time
	Rate    int64
}

func spans(t *testing.T, c *testenv.Control, instanceID string) []span {
	t.Helper()
	rows, err := c.DB.Query(ctx, `SELECT module, started_at, ended_at, hourly_rate_minor FROM usage_spans
		WHERE instance_id = $1 ORDER BY started_at, module`, instanceID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (span, error) {
		var s span
		err := r.Scan(&s.Module, &s.Started, &s.Ended, &s.Rate)
		s.Started = s.Started.UTC()
		if s.Ended != nil {
			e := s.Ended.UTC()
			s.Ended = &e
		}
		return s, err
	})
	require.NoError(t, err)
	return out
}

func openModules(ss []span) []string {
	var out []string
	for _, s := range ss {
		if s.Ended == nil {
			out = append(out, s.Module)
		}
	}
	return out
}

// instanceRow is the control database's view of an instance.
type instanceRow struct {
	Status         string
	Host           string
	Modules        []string
	HostRegistered bool
	HasCredentials bool
	FailureReason  *string
}

func loadInstance(t *testing.T, c *testenv.Control, id string) instanceRow {
	t.Helper()
	var r instanceRow
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT status, host, modules, host_registered_at IS NOT NULL,
			credentials_encrypted IS NOT NULL, failure_reason FROM instances WHERE id = $1`, id).
		Scan(&r.Status, &r.Host, &r.Modules, &r.HostRegistered, &r.HasCredentials, &r.FailureReason))
	return r
}

// assertKind checks the domain kind of an activity's error.
func assertKind(t *testing.T, want apperr.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, want, apperr.KindOf(err), "error: %v", err)
}
