package access_test

import (
	"testing"

	"tenantry/internal/access"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, perm string
		want          bool
	}{
		{"*", "forum.addUsers", true},
		{"*", "console.admin", false},
		{"console.*", "console.admin", true},
		{"forum.*", "forum.addUsers", true},
		{"forum.*", "store.manageProducts", false},
		{"forum.*", "forumx.addUsers", false},
		{"forum.addUsers", "forum.addUsers", true},
		{"forum.addUsers", "forum.addUser", false},
		{"forum.add*", "forum.addUsers", false}, // wildcards stand for a whole segment
		{"instances.read", "instances.manage", false},
	} {
		if got := access.Match(c.pattern, c.perm); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.perm, got)
		}
	}
}

func TestRoles(t *testing.T) {
	member := access.OfRole("member")
	if !member.Allows(access.InstancesRead) || member.Allows(access.InstancesManage) || member.Allows(access.ConsoleAdmin) {
		t.Fatalf("member holds %v", member)
	}
	if !member.Allows("forum.addUsers") {
		t.Fatal("member cannot use the forum")
	}
	if access.OfRole("owner").Allows(access.ConsoleAdmin) || !access.OfRole("developer").Allows(access.ConsoleAdmin) {
		t.Fatal("the platform permission is held by an owner or not by a developer")
	}
	if access.OfRole("owner").Covers(access.Set{"console.*"}) || !access.OfRole("developer").Covers(access.Set{"console.*", "*"}) {
		t.Fatal("an owner may scope a token to the platform")
	}
	if !access.OfRole("owner").Allows(access.TeamManage) || access.OfRole("nobody").Allows(access.InstancesRead) {
		t.Fatal("owner lacks team.manage or an unknown role grants something")
	}
}

func TestCovers(t *testing.T) {
	member := access.OfRole("member")
	if !member.Covers(access.Set{access.InstancesRead, "forum.*", "forum.addUsers"}) {
		t.Fatal("member does not cover its own permissions")
	}
	if member.Covers(access.Set{"*"}) || member.Covers(access.Set{"instances.*"}) || member.Covers(access.Set{access.InstancesManage}) {
		t.Fatal("member covers more than it holds")
	}
	if !access.OfRole("owner").Covers(access.Set{"*", "instances.*"}) {
		t.Fatal("owner does not cover everything")
	}
}

func TestCheckPattern(t *testing.T) {
	for _, ok := range []string{"*", "forum.*", "forum.addUsers", "console.admin"} {
		if err := access.CheckPattern(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "forum", "forum.", "*.read", "Forum.read", "forum.add*", "forum.a.b"} {
		if access.CheckPattern(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
