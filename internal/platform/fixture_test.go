package platform_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"tenantry/internal/access"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// password is every fixture user's password.
const password = "correct horse battery"

// passwordHash is hashed once: argon2 is slow on purpose.
var passwordHash = secret.HashPassword(password)

// fixture is a control database with three accounts and their people, a
// platform over it whose Temporal client is a mock that records every call,
// and principals resolved from the real grants:
//
//   - Acme: "owner", "member", "billing", and "developer" (owner there and
//     a platform developer), and "leaver" (a member, to remove); a ready
//     and a disabled forum; an invoice.
//   - Ops: "billing-operator" (owner there and a platform billing operator)
//     and spare, who holds billing-operator too, for revoking.
//   - Other: its owner, a ready forum and an invoice: another account's
//     objects.
//
// "outsider" is Other's owner acting on Acme, which they do not belong to;
// "operator elsewhere" is Acme's developer acting on Other: neither has an
// account to act on.
type fixture struct {
	ctx      context.Context
	t        *testing.T
	c        *testenv.Control
	p        *platform.Platform
	temporal *mocks.Client

	who              map[string]platform.Principal
	acme, ops, other target
	users            map[string]string // user IDs by principal name
	spare            string            // holds billing-operator
	rollout          string            // a running rollout of the store
	tokens           map[string]platform.Principal
}

// target is what an operation acts on in one account.
type target struct {
	account, ready, disabled, invoice, member, token string
	// leaver is a member to remove (on Other: someone not of Acme).
	leaver string
	// osb is a platform's (broker) instance of a ready forum with a
	// database server, binding a bound binding of it, brokerCred broker
	// credentials; osbBare another platform's instance, with no binding.
	osb, binding, brokerCred, osbBare string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	c := testenv.NewControl(t)
	f := &fixture{ctx: ctx, t: t, c: c, temporal: temporalMock(t), who: map[string]platform.Principal{},
		users: map[string]string{}, tokens: map[string]platform.Principal{}}
	f.p = platform.New(&platform.Platform{DB: c.DB, Temporal: f.temporal, Catalog: c.Catalog,
		Log: slog.New(slog.DiscardHandler), Fleet: c.Acts.Servers, Cipher: c.Cipher})

	f.acme.account, f.ops.account, f.other.account = c.Account(t, "Acme"), c.Account(t, "Ops"), c.Account(t, "Other")
	for _, m := range []struct{ name, account, role string }{
		{"owner", f.acme.account, "owner"}, {"member", f.acme.account, "member"}, {"billing", f.acme.account, "billing"},
		{"developer", f.acme.account, "developer"}, {"billing-operator", f.ops.account, "billing-operator"},
		{"other owner", f.other.account, "owner"}, {"leaver", f.acme.account, "member"},
	} {
		f.users[m.name] = c.AddMember(t, m.account, uuid.NewString()[:8]+"@example.test", passwordHash, m.role)
		if m.name != "other owner" {
			f.who[m.name] = f.principal(f.users[m.name], m.account)
		}
	}
	f.spare = c.AddMember(t, f.ops.account, "spare@example.test", passwordHash, "billing-operator")
	// The owner belongs to Ops too, to switch to.
	f.exec(`INSERT INTO grants (user_id, role, account_id) VALUES ($1, 'billing', $2)`, f.users["owner"], f.ops.account)
	f.who["outsider"] = f.principal(f.users["other owner"], f.acme.account)
	f.who["operator elsewhere"] = f.principal(f.users["developer"], f.other.account)

	f.acme.member, f.other.member = f.users["billing"], f.users["other owner"]
	f.acme.leaver, f.other.leaver = f.users["leaver"], f.users["other owner"]
	f.acme.ready, f.acme.disabled = f.instance(f.acme.account, "ready"), f.instance(f.acme.account, "disabled")
	f.other.ready = f.instance(f.other.account, "ready")
	f.other.disabled = f.other.ready
	f.acme.invoice, f.other.invoice = f.invoice(f.acme.account), f.invoice(f.other.account)
	// The instances' databases are on local; two more servers to move to
	// and to drain.
	f.exec(`UPDATE instances SET database_server_id = (SELECT id FROM database_servers WHERE name = 'local'),
		database_name = 'tenant_' || replace(id::text, '-', ''), role_name = 'tenant_' || replace(id::text, '-', '')`)
	for _, name := range []string{"spare", "drain-me"} {
		if _, err := controldb.RegisterServer(ctx, c.DB, c.Cipher, name, testenv.ServerURL(t)); err != nil {
			t.Fatal(err)
		}
	}
	f.acme.token = f.apiToken(f.who["owner"], access.InstancesRead).id
	f.rollout = uuid.NewString()
	f.exec(`INSERT INTO rollouts (id, workflow_id, service, version) VALUES ($1, 'rollout/store/1.1.0', 'store', '1.1.0')`, f.rollout)
	f.other.token = f.apiToken(f.principal(f.users["other owner"], f.other.account), access.InstancesRead).id
	f.brokered(&f.acme, f.users["owner"])
	f.brokered(&f.other, f.users["other owner"])
	return f
}

// brokerIDs are forum's offering and plan ids in the broker's catalog.
func (f *fixture) brokerIDs() (string, string) {
	offerings, err := f.p.BrokerCatalog(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, o := range offerings {
		if o.Name == "forum" {
			return o.ID, o.Plans[0].ID
		}
	}
	f.t.Fatal("no forum in the broker's catalog")
	return "", ""
}

// brokered gives an account a platform's instance (a ready forum on the
// database server), a bound binding of it and broker credentials.
func (f *fixture) brokered(on *target, ownerID string) {
	f.t.Helper()
	service, plan := f.brokerIDs()
	on.osb, on.binding, on.brokerCred, on.osbBare = "osb-"+uuid.NewString(), "bind-"+uuid.NewString(), uuid.NewString(), "osb-"+uuid.NewString()
	var id string
	for _, osb := range []string{on.osbBare, on.osb} {
		id = f.instance(on.account, "ready")
		f.exec(`UPDATE instances SET database_server_id = (SELECT id FROM database_servers LIMIT 1),
			database_name = 'tenant_' || replace(id::text, '-', '') WHERE id = $1`, id)
		f.exec(`INSERT INTO broker_instances (osb_id, instance_id, account_id, service_id, plan_id, parameters, operation)
			VALUES ($1, $2, $3, $4, $5, '{"host": "x.localhost"}', 'provision')`, osb, id, on.account, service, plan)
	}
	f.exec(`INSERT INTO broker_bindings (id, osb_id, instance_osb_id, instance_id, role_name, state)
		VALUES (gen_random_uuid(), $1, $2, $3, 'tb_' || replace(gen_random_uuid()::text, '-', ''), 'bound')`, on.binding, on.osb, id)
	f.exec(`INSERT INTO broker_credentials (id, account_id, created_by, name, username, password_hash, allowed_cidrs)
		VALUES ($1, $2, $3, 'cf', $4, $5, '{127.0.0.1/32}')`, on.brokerCred, on.account, ownerID, "broker-"+on.brokerCred[:8], passwordHash)
}

// principal resolves a user acting on an account from the grants.
func (f *fixture) principal(userID, accountID string) platform.Principal {
	f.t.Helper()
	who, err := f.p.PrincipalOf(f.ctx, userID, accountID)
	if err != nil {
		f.t.Fatal(err)
	}
	return who
}

type madeToken struct {
	id, secret string
}

// apiToken makes a real API token of who scoped to perms.
func (f *fixture) apiToken(who platform.Principal, perms ...string) madeToken {
	f.t.Helper()
	secret, tok, err := f.p.CreateAPIToken(f.ctx, who, platform.NewAPIToken{Name: "test", Permissions: perms})
	if err != nil {
		f.t.Fatalf("token of %s for %v: %v", who.Email, perms, err)
	}
	return madeToken{id: tok.ID, secret: secret}
}

// scoped is who acting through an API token scoped to perm only (resolved
// as a request with that token would be).
func (f *fixture) scoped(name, perm string) platform.Principal {
	f.t.Helper()
	key := name + " " + perm
	if who, ok := f.tokens[key]; ok {
		return who
	}
	who, _, err := f.p.ResolveAPIToken(f.ctx, f.apiToken(f.who[name], perm).secret)
	if err != nil {
		f.t.Fatal(err)
	}
	f.tokens[key] = who
	return who
}

// instance adds a forum 1.0.0 of an account with a status; it returns its ID.
func (f *fixture) instance(accountID, status string) string {
	f.t.Helper()
	id := uuid.NewString()
	f.exec(`INSERT INTO instances (id, account_id, service, version, modules, status, host)
		VALUES ($1, $2, 'forum', '1.0.0', '{core}', $3, $4)`, id, accountID, status, id[:8]+".localhost")
	return id
}

// invoice adds a closed invoice of last month; it returns its ID.
func (f *fixture) invoice(accountID string) string {
	f.t.Helper()
	id := uuid.NewString()
	start := time.Date(time.Now().Year(), time.Now().Month()-1, 1, 0, 0, 0, 0, time.UTC)
	f.exec(`INSERT INTO invoices (id, account_id, period_start, period_end, currency, subtotal_minor, discount_minor, total_minor)
		VALUES ($1, $2, $3, $4, 'EUR', 100, 0, 100)`, id, accountID, start, start.AddDate(0, 1, 0))
	return id
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.c.DB.Exec(f.ctx, sql, args...); err != nil {
		f.t.Fatal(err)
	}
}

// state is everything an operation may write (the control database's
// tables the platform layer writes, and the calls made to Temporal): equal
// states before and after a call mean it had no side effect.
func (f *fixture) state() string {
	f.t.Helper()
	var s string
	if err := f.c.DB.QueryRow(f.ctx, `SELECT concat_ws(' | ',
		'users: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM users t), ''),
		'grants: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM grants t), ''),
		'audit_log: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM audit_log t), ''),
		'api_tokens: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM api_tokens t), ''),
		'api_sessions: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM api_sessions t), ''),
		'discounts: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM discounts t), ''),
		'instances: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM instances t), ''),
		'service_jobs: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM service_jobs t), ''),
		'invoices: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM invoices t), ''),
		'rollouts: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM rollouts t), ''),
		'broker_credentials: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM broker_credentials t), ''),
		'broker_instances: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM broker_instances t), ''),
		'broker_bindings: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM broker_bindings t), ''),
		'database_servers: ' || coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM database_servers t), ''))`).Scan(&s); err != nil {
		f.t.Fatal(err)
	}
	return s + " | temporal: " + strings.Join(f.calls(), ",")
}

// calls lists the names of the Temporal client's methods called so far.
func (f *fixture) calls() []string {
	var names []string
	for _, c := range f.temporal.Calls {
		names = append(names, c.Method)
	}
	return names
}

// temporalMock answers every call the platform layer makes as a healthy
// cluster would where nothing ran yet: starts, signals and updates succeed,
// lists are empty, nothing is found to describe, and the billing cycle's
// worker does not answer (the period so far is computed without it).
func temporalMock(t *testing.T) *mocks.Client {
	tc := mocks.NewClient(t)
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return("run").Maybe()
	run.On("Get", mock.Anything, mock.Anything).Return(nil).Maybe()
	update := mocks.NewWorkflowUpdateHandle(t)
	update.On("Get", mock.Anything, mock.Anything).Return(nil).Maybe()
	anyArgs := func(n int) []any {
		args := make([]any, n)
		for i := range args {
			args[i] = mock.Anything
		}
		return args
	}
	tc.On("ExecuteWorkflow", anyArgs(4)...).Return(run, nil).Maybe()
	tc.On("NewWithStartWorkflowOperation", anyArgs(3)...).Return(nil).Maybe()
	tc.On("UpdateWithStartWorkflow", anyArgs(2)...).Return(update, nil).Maybe()
	tc.On("UpdateWorkflow", anyArgs(2)...).Return(update, nil).Maybe()
	tc.On("SignalWorkflow", anyArgs(5)...).Return(nil).Maybe()
	tc.On("SignalWithStartWorkflow", anyArgs(7)...).Return(run, nil).Maybe()
	tc.On("GetWorkflow", anyArgs(3)...).Return(run).Maybe()
	tc.On("ListWorkflow", anyArgs(2)...).Return(&workflowservice.ListWorkflowExecutionsResponse{}, nil).Maybe()
	tc.On("DescribeWorkflowExecution", anyArgs(3)...).Return(nil, serviceerror.NewNotFound("never ran")).Maybe()
	tc.On("QueryWorkflowWithOptions", anyArgs(2)...).Return(nil, serviceerror.NewUnavailable("no worker")).Maybe()
	// No worker deployment yet; setting a version's routing succeeds.
	deployments := mocks.NewWorkerDeploymentClient(t)
	none := mocks.NewWorkerDeploymentListIterator(t)
	none.On("HasNext").Return(false).Maybe()
	deployments.On("List", anyArgs(2)...).Return(none, nil).Maybe()
	handle := mocks.NewWorkerDeploymentHandle(t)
	handle.On("Describe", anyArgs(2)...).Return(client.WorkerDeploymentDescribeResponse{},
		serviceerror.NewNotFound("no Worker Deployment found")).Maybe()
	handle.On("SetCurrentVersion", anyArgs(2)...).Return(client.WorkerDeploymentSetCurrentVersionResponse{}, nil).Maybe()
	handle.On("SetRampingVersion", anyArgs(2)...).Return(client.WorkerDeploymentSetRampingVersionResponse{}, nil).Maybe()
	deployments.On("GetHandle", mock.Anything).Return(deploymentHandle{handle}).Maybe()
	tc.On("WorkerDeploymentClient").Return(deployments).Maybe()
	tc.On("QueryWorkflow", anyArgs(4)...).Return(nil, serviceerror.NewUnavailable("no worker")).Maybe()
	return tc
}

// deploymentHandle completes the SDK's mock handle, which lacks
// SetManagerIdentity (added to the interface after the mock was made).
type deploymentHandle struct{ *mocks.WorkerDeploymentHandle }

func (deploymentHandle) SetManagerIdentity(context.Context, client.WorkerDeploymentSetManagerIdentityOptions) (client.WorkerDeploymentSetManagerIdentityResponse, error) {
	return client.WorkerDeploymentSetManagerIdentityResponse{}, nil
}
