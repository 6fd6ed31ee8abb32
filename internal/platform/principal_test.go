package platform_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

func TestPrincipalOf(t *testing.T) {
	f := newFixture(t)
	owner := f.users["owner"] // owner of Acme, then billing on Ops
	cases := []struct {
		name              string
		user, account     string
		wantAccount, role string
		platformRoles     []string
		can, cannot       []string
	}{
		{name: "first account by default", user: owner, wantAccount: f.acme.account, role: "owner",
			can: []string{access.InstancesManage, access.TeamManage, "forum.addUsers"}, cannot: []string{access.ConsoleAdmin}},
		{name: "a chosen account", user: owner, account: f.ops.account, wantAccount: f.ops.account, role: "billing",
			can: []string{access.BillingRead, access.InstancesRead}, cannot: []string{access.InstancesManage, access.TeamRead}},
		{name: "an account the user does not belong to", user: owner, account: f.other.account,
			cannot: []string{access.InstancesRead, access.BillingRead, access.ConsoleAdmin}},
		{name: "a member", user: f.users["member"], wantAccount: f.acme.account, role: "member",
			can: []string{access.InstancesRead, access.AuditRead, "forum.moderate"}, cannot: []string{access.InstancesManage, access.BillingRead}},
		{name: "a developer", user: f.users["developer"], wantAccount: f.acme.account, role: "owner",
			platformRoles: []string{"developer"}, can: []string{access.ConsoleAdmin, access.ConsoleBilling, access.InstancesManage}},
		{name: "a developer elsewhere keeps the platform's permissions only", user: f.users["developer"], account: f.other.account,
			platformRoles: []string{"developer"}, can: []string{access.ConsoleAdmin, access.ConsoleBilling}},
		{name: "a billing operator", user: f.users["billing-operator"], wantAccount: f.ops.account, role: "owner",
			platformRoles: []string{"billing-operator"}, can: []string{access.ConsoleBilling}, cannot: []string{access.ConsoleAdmin}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			who, err := f.p.PrincipalOf(f.ctx, tc.user, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			if who.UserID != tc.user || who.AccountID != tc.wantAccount || who.Role != tc.role ||
				!slices.Equal(who.PlatformRoles, tc.platformRoles) {
				t.Errorf("got user %s account %q role %q platform %v, want %s %q %q %v",
					who.UserID, who.AccountID, who.Role, who.PlatformRoles, tc.user, tc.wantAccount, tc.role, tc.platformRoles)
			}
			for _, perm := range tc.can {
				if !who.Can(perm) {
					t.Errorf("cannot %s (perms %v)", perm, who.Perms)
				}
			}
			for _, perm := range tc.cannot {
				if who.Can(perm) {
					t.Errorf("can %s (perms %v)", perm, who.Perms)
				}
			}
		})
	}

	if _, err := f.p.PrincipalOf(f.ctx, uuid.NewString(), ""); apperr.KindOf(err) != apperr.KindUnauthorized {
		t.Errorf("an unknown user: got %v, want unauthorized", err)
	}
}

// A removed member's token resolves to a principal with nothing on the
// account, so whatever a front end cached is not what it re-resolves.
func TestRemovedMemberTokenLosesTheAccount(t *testing.T) {
	f := newFixture(t)
	token := f.apiToken(f.who["leaver"], access.InstancesRead)
	who, _, err := f.p.ResolveAPIToken(f.ctx, token.secret)
	if err != nil || who.AccountID != f.acme.account || !who.Can(access.InstancesRead) {
		t.Fatalf("before: %+v, %v", who, err)
	}
	if err := f.p.RemoveMember(f.ctx, f.who["owner"], f.users["leaver"]); err != nil {
		t.Fatal(err)
	}

	who, _, err = f.p.ResolveAPIToken(f.ctx, token.secret)
	if err != nil {
		t.Fatal(err)
	}
	if who.AccountID != "" || len(who.Perms) != 0 || who.Can(access.InstancesRead) {
		t.Errorf("after removal: account %q perms %v", who.AccountID, who.Perms)
	}
	if _, err := f.p.Instances(f.ctx, who); apperr.KindOf(err) != apperr.KindForbidden {
		t.Errorf("Instances after removal: %v, want forbidden", err)
	}
}

// Removing a member leaves the team without them and says so in the
// timeline; a second removal is not found; the last owner cannot go,
// neither removed nor leaving.
func TestRemoveMember(t *testing.T) {
	f := newFixture(t)
	owner := f.who["owner"]
	if err := f.p.RemoveMember(f.ctx, owner, f.users["leaver"]); err != nil {
		t.Fatal(err)
	}
	team, err := f.p.Team(f.ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range team {
		if m.UserID == f.users["leaver"] {
			t.Errorf("still in the team: %+v", m)
		}
	}
	events, err := f.p.Timeline(f.ctx, owner)
	if err != nil || len(events) == 0 || events[0].Action != "member.removed" || events[0].ObjectID != f.users["leaver"] {
		t.Errorf("timeline: %+v, %v", events, err)
	}
	for _, id := range []string{f.users["leaver"], "not-a-uuid"} {
		if err := f.p.RemoveMember(f.ctx, owner, id); apperr.KindOf(err) != apperr.KindNotFound {
			t.Errorf("removing %s: %v, want not found", id, err)
		}
	}

	// Acme's owners are "owner" and "developer": one may go, not both.
	if err := f.p.RemoveMember(f.ctx, owner, f.users["developer"]); err != nil {
		t.Fatal(err)
	}
	err = f.p.RemoveMember(f.ctx, owner, f.users["owner"])
	if apperr.KindOf(err) != apperr.KindConflict || !strings.Contains(apperr.Message(err), "needs an owner") {
		t.Errorf("the last owner leaving: %v, want a conflict", err)
	}
}

// Every operation that changes what a principal may do tells the web
// processes (on AccessChannel) to drop the principals they cached.
func TestAccessChangesAreAnnounced(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	changes := make(chan struct{}, 16)
	listening := make(chan bool, 1)
	go func() {
		_ = f.p.ListenAccessChanges(ctx, func() { changes <- struct{}{} }, func(on bool) {
			if on {
				listening <- on
			}
		})
	}()
	<-listening
	<-changes // listening (re)started
	dev, owner := f.who["developer"], f.who["owner"]
	for _, tc := range []struct {
		name   string
		change func() error
	}{
		{"SetMemberRole", func() error { return f.p.SetMemberRole(f.ctx, owner, f.users["member"], "billing") }},
		{"RemoveMember", func() error { return f.p.RemoveMember(f.ctx, owner, f.users["leaver"]) }},
		{"GrantPlatformRole", func() error {
			_, err := f.p.GrantPlatformRole(f.ctx, dev, "spare@example.test", "developer")
			return err
		}},
		{"RevokePlatformRole", func() error { return f.p.RevokePlatformRole(f.ctx, dev, f.spare, "developer") }},
		{"RevokeAPIToken", func() error { return f.p.RevokeAPIToken(f.ctx, owner, f.acme.token) }},
	} {
		if err := tc.change(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		select {
		case <-changes:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: no notification on %s", tc.name, platform.AccessChannel)
		}
	}
}

func TestSwitchAccount(t *testing.T) {
	f := newFixture(t)
	owner := f.who["owner"]
	list, err := f.p.Memberships(f.ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, m := range list {
		got = append(got, m.AccountName+" "+m.Role)
	}
	if want := []string{"Acme owner", "Ops billing"}; !slices.Equal(got, want) {
		t.Errorf("memberships %v, want %v", got, want)
	}
	// A principal carries the same list, resolved with it.
	if fresh, err := f.p.PrincipalOf(f.ctx, owner.UserID, ""); err != nil || !slices.Equal(fresh.Memberships, list) {
		t.Errorf("the principal's memberships %+v (%v), want %+v", fresh.Memberships, err, list)
	}
	next, err := f.p.SwitchAccount(f.ctx, owner, f.ops.account)
	if err != nil || next.AccountID != f.ops.account || next.Role != "billing" || next.Can(access.InstancesManage) {
		t.Errorf("switch to Ops: %+v, %v", next, err)
	}
	if _, err := f.p.SwitchAccount(f.ctx, owner, f.other.account); apperr.KindOf(err) != apperr.KindNotFound {
		t.Errorf("switch to an account of others: %v, want not found", err)
	}
}

// A token's user may hold more than the token: what the token offers to
// make is what the token itself holds.
func TestTokenPermissions(t *testing.T) {
	f := newFixture(t)
	if got := f.p.TokenPermissions(f.who["member"]); !slices.Contains(got, "forum.moderate") ||
		slices.Contains(got, access.InstancesManage) || slices.Contains(got, access.ConsoleAdmin) {
		t.Errorf("a member may make tokens for %v", got)
	}
	if got := f.p.TokenPermissions(f.scoped("owner", access.InstancesRead)); !slices.Equal(got, []string{access.InstancesRead}) {
		t.Errorf("a token scoped to %s may make tokens for %v", access.InstancesRead, got)
	}
}

func TestParseAllowList(t *testing.T) {
	got, err := platform.ParseAllowList("10.1.2.3/8, 127.0.0.1 ::1\n2001:db8::/32")
	if err != nil || strings.Join(got, " ") != "10.0.0.0/8 127.0.0.1/32 ::1/128 2001:db8::/32" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", " , ", "example.com", "10.0.0.0/33"} {
		if _, err := platform.ParseAllowList(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
