package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"tenantry/internal/platform"
)

// TestTeamThroughTheAPI: an owner invites a member (a new user, with a
// one-time password), gives them another role and removes them; the
// removed member's login token no longer acts on the account, at once;
// the last owner cannot leave.
func TestTeamThroughTheAPI(t *testing.T) {
	s := startStack(t, time.Hour)
	owner := signedUp(t, s, "owner@team.test", "Owner", "Team")

	owner.must(http.StatusUnprocessableEntity, "POST", "/team", map[string]string{"email": "not an email", "name": "X", "role": "member"}, nil)
	owner.must(http.StatusUnprocessableEntity, "POST", "/team", map[string]string{"email": "x@team.test", "name": "X", "role": "admiral"}, nil)
	var invited platform.Invited
	owner.must(http.StatusCreated, "POST", "/team", map[string]string{"email": "new@team.test", "name": "New", "role": "member"}, &invited)
	if invited.Password == "" || invited.Existing {
		t.Fatalf("invited %+v", invited)
	}
	member := &api{t: t, base: owner.base}
	var login struct{ Token string }
	member.must(http.StatusOK, "POST", "/login", map[string]string{"email": "new@team.test", "password": invited.Password}, &login)
	member.token = login.Token
	member.must(http.StatusOK, "GET", "/instances", nil, nil)
	member.must(http.StatusForbidden, "DELETE", "/team/"+invited.UserID, nil, nil)

	owner.must(http.StatusNoContent, "PUT", "/team/"+invited.UserID+"/role", map[string]string{"role": "billing"}, nil)
	owner.must(http.StatusUnprocessableEntity, "PUT", "/team/"+invited.UserID+"/role", map[string]string{"role": "root"}, nil)
	var team struct{ Members []platform.Member }
	owner.must(http.StatusOK, "GET", "/team", nil, &team)
	if len(team.Members) != 2 || team.Members[1].Email != "new@team.test" || team.Members[1].Role != "billing" {
		t.Fatalf("team %+v", team.Members)
	}

	owner.must(http.StatusNoContent, "DELETE", "/team/"+invited.UserID, nil, nil)
	member.must(http.StatusForbidden, "GET", "/instances", nil, nil)
	owner.must(http.StatusNotFound, "DELETE", "/team/"+invited.UserID, nil, nil)
	owner.must(http.StatusOK, "GET", "/team", nil, &team)
	if len(team.Members) != 1 {
		t.Fatalf("after removal: %+v", team.Members)
	}
	owner.must(http.StatusConflict, "DELETE", "/team/"+team.Members[0].UserID, nil, nil)
}
