package platform_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/internal/testenv"
)

// operation is one operation of the platform layer with who may call it.
type operation struct {
	name string
	// perm is the permission it needs ("" for the user's own things).
	perm string
	// may and mayNot name the fixture's principals; "token" is may[0]
	// acting through an API token whose scope excludes perm.
	may, mayNot []string
	// allowed is how an allowed call ends: success (""), or not found for
	// Enable, whose workflow (mocked here) is what records the instance.
	allowed apperr.Kind
	// starts is the Temporal call an allowed call makes to start, signal
	// or update a workflow.
	starts string
	// ownAccount: it acts on an object of the principal's account, which
	// is not found (never forbidden) in another account.
	ownAccount bool
	call       func(f *fixture, who platform.Principal, on target) error
}

// Who may not do an account's operations besides its own members: someone
// of another account, a developer acting on an account they do not belong
// to, and a token that does not hold the permission.
var strangers = []string{"outsider", "operator elsewhere", "token"}

// Who may not do the platform's operations.
var accountPeople = []string{"owner", "member", "billing", "outsider", "token"}

func with(names []string, more ...string) []string { return append(more, names...) }

var operations = []operation{
	// Instances.
	{name: "Instances", perm: access.InstancesRead, may: []string{"owner", "member", "billing", "developer"}, mayNot: strangers,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Instances(f.ctx, who)
			return err
		}},
	{name: "Instance", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers, ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Instance(f.ctx, who, on.ready)
			return err
		}},
	{name: "InstanceWithProgress", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.InstanceWithProgress(f.ctx, who, on.ready)
			return err
		}},
	{name: "InstanceDetail", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.InstanceDetail(f.ctx, who, on.ready)
			return err
		}},
	{name: "InstanceLogs", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.InstanceLogs(f.ctx, who, on.ready, platform.LogQuery{})
			return err
		}},
	{name: "Enable", perm: access.InstancesManage, may: []string{"owner", "developer"}, mayNot: with(strangers, "member", "billing"),
		allowed: apperr.KindNotFound, starts: "UpdateWithStartWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Enable(f.ctx, who, platform.EnableInput{Service: "forum", Modules: []string{"core"},
				Host: uuid.NewString()[:8] + ".localhost"})
			return err
		}},
	{name: "Setup", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "UpdateWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.Setup(f.ctx, who, on.ready, platform.SetupInput{AdminEmail: "admin@example.test", AdminName: "Admin",
				AdminPassword: password, Language: "en"})
		}},
	{name: "ChangeModules", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.ChangeModules(f.ctx, who, on.ready, []string{"core", "search"})
			return err
		}},
	{name: "Disable", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Disable(f.ctx, who, on.ready)
			return err
		}},
	{name: "Reenable", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "UpdateWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.Reenable(f.ctx, who, on.disabled)
		}},
	{name: "SetExpiry", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "SignalWithStartWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			end := time.Now().Add(48 * time.Hour)
			return f.p.SetExpiry(f.ctx, who, on.ready, &end)
		}},
	{name: "StartJob", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.StartJob(f.ctx, who, on.ready, "refresh_board_stats")
			return err
		}},
	{name: "InstanceJobs", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers, ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.InstanceJobs(f.ctx, who, on.ready)
			return err
		}},
	{name: "UpgradeInstance", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "ExecuteWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.UpgradeInstance(f.ctx, who, on.ready, "1.1.0")
			return err
		}},

	// Rollouts.
	{name: "StartRollout", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "ExecuteWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.StartRollout(f.ctx, who, platform.RolloutRequest{Service: "forum", Version: "1.2.0"})
			return err
		}},
	{name: "Rollouts", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Rollouts(f.ctx, who)
			return err
		}},
	{name: "Rollout", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Rollout(f.ctx, who, f.rollout)
			return err
		}},
	{name: "ControlRollout", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "UpdateWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.ControlRollout(f.ctx, who, f.rollout, "pause", "")
		}},
	// The Open Service Broker API: a platform acts as the owner who made
	// its credentials, on the instances of that account. The fetches and
	// polls come before the changes, which move the instance on.
	{name: "BrokerInstance", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.BrokerInstance(f.ctx, who, on.osb, "http://console.test")
			return err
		}},
	{name: "BrokerLastOperation", perm: access.InstancesRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.BrokerLastOperation(f.ctx, who, on.osb, "")
			return err
		}},
	{name: "BrokerGetBinding", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.BrokerGetBinding(f.ctx, who, on.osb, on.binding)
			return err
		}},
	// Not found: the Bind workflow (mocked here) is what makes it bound.
	{name: "BrokerBind", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		allowed: apperr.KindNotFound, starts: "ExecuteWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			service, plan := f.brokerIDs()
			_, _, err := f.p.BrokerBind(f.ctx, who, platform.BrokerBindInput{InstanceID: on.osb, BindingID: uuid.NewString(),
				ServiceID: service, PlanID: plan})
			return err
		}},
	{name: "BrokerUnbind", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			service, plan := f.brokerIDs()
			return f.p.BrokerUnbind(f.ctx, who, platform.BrokerUnbindInput{InstanceID: on.osb, BindingID: on.binding,
				ServiceID: service, PlanID: plan})
		}},
	{name: "BrokerProvision", perm: access.InstancesManage, may: []string{"owner", "developer"},
		mayNot: with(strangers, "member", "billing"), starts: "UpdateWithStartWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			service, plan := f.brokerIDs()
			_, err := f.p.BrokerProvision(f.ctx, who, platform.BrokerInstanceInput{InstanceID: uuid.NewString(), ServiceID: service,
				PlanID: plan, Parameters: []byte(`{"host": "` + uuid.NewString()[:8] + `.localhost"}`)})
			return err
		}},
	{name: "BrokerUpdate", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			service, _ := f.brokerIDs()
			_, err := f.p.BrokerUpdate(f.ctx, who, platform.BrokerInstanceInput{InstanceID: on.osb, ServiceID: service,
				Parameters: []byte(`{"modules": ["search"]}`)})
			return err
		}},
	{name: "BrokerDeprovision", perm: access.InstancesManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		starts: "ExecuteWorkflow", ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			service, plan := f.brokerIDs()
			_, err := f.p.BrokerDeprovision(f.ctx, who, platform.BrokerDeprovisionInput{InstanceID: on.osbBare, ServiceID: service, PlanID: plan})
			return err
		}},
	// Owners make broker credentials: they hand a platform instances.manage.
	{name: "BrokerCredentials", perm: access.TeamManage, may: []string{"owner", "developer"}, mayNot: with(strangers, "member", "billing"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.BrokerCredentials(f.ctx, who)
			return err
		}},
	{name: "CreateBrokerCredential", perm: access.TeamManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.CreateBrokerCredential(f.ctx, who, platform.NewBrokerCredential{Name: "cf", AllowedFrom: "10.0.0.0/8"})
			return err
		}},
	{name: "RevokeBrokerCredential", perm: access.TeamManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RevokeBrokerCredential(f.ctx, who, on.brokerCred)
		}},

	// The account's billing.
	{name: "CurrentBilling", perm: access.BillingRead, may: []string{"owner", "billing"}, mayNot: with(strangers, "member"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.CurrentBilling(f.ctx, who)
			return err
		}},
	{name: "Invoices", perm: access.BillingRead, may: []string{"owner", "billing"}, mayNot: with(strangers, "member"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Invoices(f.ctx, who)
			return err
		}},
	{name: "Invoice", perm: access.BillingRead, may: []string{"owner", "billing"}, mayNot: with(strangers, "member"),
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.Invoice(f.ctx, who, on.invoice)
			return err
		}},

	// Every account's billing.
	{name: "Revenue", perm: access.ConsoleBilling, may: []string{"billing-operator", "developer", "operator elsewhere"},
		mayNot: accountPeople,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.Revenue(f.ctx, who, time.Now().AddDate(0, -2, 0), time.Now().AddDate(0, 1, 0))
			return err
		}},
	{name: "CloseFailures", perm: access.ConsoleBilling, may: []string{"billing-operator", "developer"}, mayNot: accountPeople,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.CloseFailures(f.ctx, who)
			return err
		}},
	{name: "RetryClose", perm: access.ConsoleBilling, may: []string{"billing-operator", "developer"}, mayNot: accountPeople,
		starts: "SignalWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RetryClose(f.ctx, who, on.account)
		}},
	{name: "GrantDiscount", perm: access.ConsoleBilling, may: []string{"billing-operator", "developer"}, mayNot: accountPeople,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.GrantDiscount(f.ctx, who, controldb.DiscountInput{AccountID: on.account, Name: "Loyalty", PercentBP: 1000})
			return err
		}},

	// The developers' pages.
	{name: "PriceSchedule", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.PriceSchedule(f.ctx, who)
			return err
		}},
	{name: "AllInstances", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.AllInstances(f.ctx, who, platform.InstanceFilter{})
			return err
		}},
	{name: "AnyInstance", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.AnyInstance(f.ctx, who, on.ready)
			return err
		}},
	{name: "Problems", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.Problems(f.ctx, who)
			return err
		}},
	{name: "PlatformTeam", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.PlatformTeam(f.ctx, who)
			return err
		}},
	{name: "GrantPlatformRole", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.GrantPlatformRole(f.ctx, who, "spare@example.test", "billing-operator")
			return err
		}},
	{name: "RevokePlatformRole", perm: access.ConsoleAdmin, may: []string{"developer"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RevokePlatformRole(f.ctx, who, f.spare, "billing-operator")
		}},

	// Shipping worker builds.
	{name: "Workers", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "WorkerDeploymentClient",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Workers(f.ctx, who)
			return err
		}},
	{name: "SetCurrentBuild", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "WorkerDeploymentClient",
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.SetCurrentBuild(f.ctx, who, "tenantry", "b2")
		}},
	{name: "RampBuild", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "WorkerDeploymentClient",
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RampBuild(f.ctx, who, "tenantry", "b2", 10)
		}},
	// The fleet of database servers.
	{name: "Servers", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Servers(f.ctx, who)
			return err
		}},
	{name: "Server", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Server(f.ctx, who, "local")
			return err
		}},
	{name: "RegisterServer", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.RegisterServer(f.ctx, who, platform.NewServer{Name: "s-" + uuid.NewString()[:8],
				AdminURL: testenv.ServerURL(f.t), Capacity: 10})
			return err
		}},
	{name: "SetServerState", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.SetServerState(f.ctx, who, "spare", platform.ServerActive)
			return err
		}},
	{name: "CheckServer", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.CheckServer(f.ctx, who, "local")
			return err
		}},
	{name: "MoveInstance", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "ExecuteWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.MoveInstance(f.ctx, who, on.ready, "spare")
			return err
		}},
	{name: "DrainServer", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"), starts: "ExecuteWorkflow",
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.DrainServer(f.ctx, who, "drain-me")
			return err
		}},
	{name: "WaitingForRoom", perm: access.ConsoleAdmin, may: []string{"developer", "operator elsewhere"},
		mayNot: with(accountPeople, "billing-operator"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.WaitingForRoom(f.ctx, who)
			return err
		}},

	// The account's team and timeline.
	{name: "Team", perm: access.TeamRead, may: []string{"owner", "developer"}, mayNot: with(strangers, "member", "billing"),
		call: func(f *fixture, who platform.Principal, on target) error { _, err := f.p.Team(f.ctx, who); return err }},
	{name: "InviteMember", perm: access.TeamManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.InviteMember(f.ctx, who, platform.Invite{Email: uuid.NewString()[:8] + "@example.test",
				Name: "New Person", Role: "member"})
			return err
		}},
	{name: "SetMemberRole", perm: access.TeamManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.SetMemberRole(f.ctx, who, on.member, "billing")
		}},
	{name: "RemoveMember", perm: access.TeamManage, may: []string{"owner"}, mayNot: with(strangers, "member", "billing"),
		ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RemoveMember(f.ctx, who, on.leaver)
		}},
	{name: "Timeline", perm: access.AuditRead, may: []string{"owner", "member", "billing"}, mayNot: strangers,
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Timeline(f.ctx, who)
			return err
		}},

	// The user's own things need no permission, but a token holds only what
	// its user holds, within the token it is made with.
	{name: "CreateAPIToken", perm: access.AuditRead, may: []string{"owner", "member"}, mayNot: []string{"outsider", "token"},
		call: func(f *fixture, who platform.Principal, on target) error {
			_, _, err := f.p.CreateAPIToken(f.ctx, who, platform.NewAPIToken{Name: "ci", Permissions: []string{access.AuditRead}})
			return err
		}},
	{name: "RevokeAPIToken", may: []string{"owner"}, ownAccount: true,
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.RevokeAPIToken(f.ctx, who, on.token)
		}},
	{name: "APITokens", may: []string{"owner", "member", "outsider", "token"},
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.APITokens(f.ctx, who)
			return err
		}},
	{name: "ChangePassword", may: []string{"owner", "member", "outsider", "token"},
		call: func(f *fixture, who platform.Principal, on target) error {
			return f.p.ChangePassword(f.ctx, who, platform.PasswordChange{Current: password, New: password, Repeat: password,
				Addr: "192.0.2.1"})
		}},
	{name: "Memberships", may: []string{"owner", "outsider", "token"},
		call: func(f *fixture, who platform.Principal, on target) error {
			_, err := f.p.Memberships(f.ctx, who)
			return err
		}},
	// A token acts on its own account only.
	{name: "SwitchAccount", may: []string{"owner"}, mayNot: []string{"token"},
		call: func(f *fixture, who platform.Principal, on target) error {
			next, err := f.p.SwitchAccount(f.ctx, who, f.ops.account)
			if err == nil && next.AccountID != f.ops.account {
				return apperr.Invalid("switched to %q", next.AccountID)
			}
			return err
		}},
}

// TestPermissions calls every operation as each principal that may and
// each that may not: a refusal is forbidden and changes nothing (no row, no
// workflow), an allowed call is not refused and starts its workflow.
func TestPermissions(t *testing.T) {
	f := newFixture(t)
	for _, op := range operations {
		t.Run(op.name, func(t *testing.T) {
			f := f.in(t)
			for _, name := range op.mayNot {
				who := f.as(name, op)
				before := f.state()
				err := op.call(f, who, f.acme)
				if kind := apperr.KindOf(err); kind != apperr.KindForbidden {
					t.Errorf("%s: got %q (%v), want forbidden", name, kind, err)
				}
				if after := f.state(); after != before {
					t.Errorf("%s: a refused call changed %s", name, changed(before, after))
				}
			}
			for _, name := range op.may {
				calls := len(f.calls())
				err := op.call(f, f.as(name, op), f.acme)
				if kind := apperr.KindOf(err); kind != op.allowed {
					t.Errorf("%s: got %q (%v), want %q", name, kind, err, op.allowed)
				}
				if op.starts != "" && !slices.Contains(f.calls()[calls:], op.starts) {
					t.Errorf("%s: no %s call, only %v", name, op.starts, f.calls()[calls:])
				}
			}
		})
	}
}

// TestAnotherAccountsObjectsAreNotFound acts as Acme's owner on Other's
// instances, invoice, member and token: each is not found, never
// forbidden, so their existence is not revealed, and nothing changes.
func TestAnotherAccountsObjectsAreNotFound(t *testing.T) {
	f := newFixture(t)
	for _, op := range operations {
		if !op.ownAccount {
			continue
		}
		t.Run(op.name, func(t *testing.T) {
			f := f.in(t)
			before := f.state()
			err := op.call(f, f.who["owner"], f.other)
			if kind := apperr.KindOf(err); kind != apperr.KindNotFound {
				t.Errorf("got %q (%v), want not found", kind, err)
			}
			if after := f.state(); after != before {
				t.Errorf("changed %s", changed(before, after))
			}
		})
	}
}

// TestEveryOperationIsInTheTable keeps the table whole: every exported
// method of *platform.Platform that takes a Principal has a row.
func TestEveryOperationIsInTheTable(t *testing.T) {
	names := map[string]bool{}
	for _, op := range operations {
		names[op.name] = true
	}
	for _, m := range principalMethods() {
		if !names[m] {
			t.Errorf("%s takes a Principal but has no row in operations", m)
		}
	}
}

// in is the fixture reporting to a subtest.
func (f *fixture) in(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// as is the principal a row names; "token" is may[0] through an API token
// scoped to another permission than the row's.
func (f *fixture) as(name string, op operation) platform.Principal {
	f.t.Helper()
	if name != "token" {
		return f.who[name]
	}
	other := access.InstancesRead
	if op.perm == access.InstancesRead {
		other = access.AuditRead
	}
	return f.scoped(op.may[0], other)
}

// changed names the parts of two states that differ.
func changed(before, after string) string {
	b, a := strings.Split(before, " | "), strings.Split(after, " | ")
	var parts []string
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			name, _, _ := strings.Cut(a[i], ":")
			parts = append(parts, name)
		}
	}
	return strings.Join(parts, ", ")
}

// notOperations take a Principal but refuse nothing.
var notOperations = map[string]string{
	"TokenPermissions": "lists what a new token may hold (TestTokenPermissions)",
}

// principalMethods lists the exported methods of *platform.Platform that
// take a Principal.
func principalMethods() []string {
	typ, principal := reflect.TypeFor[*platform.Platform](), reflect.TypeFor[platform.Principal]()
	var out []string
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		for j := range m.Type.NumIn() {
			if m.Type.In(j) == principal && notOperations[m.Name] == "" {
				out = append(out, m.Name)
				break
			}
		}
	}
	return out
}
