package console_test

import (
	"context"
	"strings"
	"testing"

	"tenantry/web/console"
)

// An owner sees, for each member, a role form and a removal button (for
// themselves: leaving); a member without team.manage sees roles only.
func TestTeamPageOffersRemoval(t *testing.T) {
	render := func(manage bool) string {
		var b strings.Builder
		team := console.Team{Roles: []string{"owner", "member", "billing"}, CanManage: manage, Members: []console.Member{
			{ID: "u1", Email: "owner@x.test", Name: "Owner", Role: "owner", You: true},
			{ID: "u2", Email: "member@x.test", Name: "Member", Role: "member"},
		}}
		if err := console.TeamPage(console.Page{Title: "Team"}, team).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	page := render(true)
	for _, want := range []string{`action="/team/u2/remove"`, "Remove from the account", `action="/team/u1/remove"`, "Leave the account"} {
		if !strings.Contains(page, want) {
			t.Errorf("an owner's page lacks %q", want)
		}
	}
	if page := render(false); strings.Contains(page, "/remove") || !strings.Contains(page, "member") {
		t.Errorf("a member's page offers removal:\n%s", page)
	}
}
