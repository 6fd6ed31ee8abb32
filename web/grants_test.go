package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A user who belongs to two accounts acts on one at a time, with the role
// they hold there, and switches between them; an account they do not
// belong to cannot be switched to.
func TestMemberOfTwoAccountsSwitches(t *testing.T) {
	s := newSite(t)
	ada, acme := s.user("owner")
	bob, bobs := s.user("owner")
	acmeForum, bobsForum := s.instance(acme), s.instance(bobs)
	owner := s.browser()
	owner.login(bob, password)
	// Ada already has a login: she is added to Bob's account, no password.
	status, _, body := owner.do("POST", "/team", url.Values{"email": {ada}, "name": {"Ada"}, "role": {"member"}}, nil)
	if status != http.StatusCreated || strings.Contains(body, "shown only now") {
		t.Fatalf("adding an existing user: %d", status)
	}

	b := s.browser()
	b.login(ada, password)
	if _, _, dash := b.do("GET", "/dashboard", nil, nil); !strings.Contains(dash, acmeForum[:8]) || strings.Contains(dash, bobsForum[:8]) {
		t.Fatal("the first account's dashboard is not shown first")
	}
	if status, _, _ := b.do("POST", "/account/switch", url.Values{"account_id": {bobs}}, nil); status != http.StatusSeeOther {
		t.Fatalf("switch: %d", status)
	}
	if _, _, dash := b.do("GET", "/dashboard", nil, nil); !strings.Contains(dash, bobsForum[:8]) || strings.Contains(dash, acmeForum[:8]) {
		t.Fatal("after the switch the dashboard is not the other account's")
	}
	// There she is a member: no team management, no disabling.
	if status, _, _ := b.do("POST", "/instances/"+bobsForum+"/disable", url.Values{}, nil); status != http.StatusForbidden {
		t.Fatalf("a member disabled an instance: %d", status)
	}
	if status, _, _ := b.do("POST", "/account/switch", url.Values{"account_id": {acme}}, nil); status != http.StatusSeeOther {
		t.Fatalf("switch back: %d", status)
	}
	_, stranger := s.user("owner")
	if status, _, _ := b.do("POST", "/account/switch", url.Values{"account_id": {stranger}}, nil); status != http.StatusNotFound {
		t.Fatalf("switch to an account she does not belong to: %d, want 404", status)
	}

	// The API picks the account at login; a token acts on that one only.
	token := loginToken(t, s, ada, bobs)
	if got := bearerStatus(t, s.url, "GET", "/api/instances", token); got != http.StatusOK {
		t.Fatalf("token for Bob's account lists its instances: %d", got)
	}
	req, _ := http.NewRequest("GET", s.url+"/api/instances", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Instances []struct{ ID string } `json:"instances"`
	}
	if err := decodeJSON(resp, &list); err != nil || len(list.Instances) != 1 || list.Instances[0].ID != bobsForum {
		t.Fatalf("token for Bob's account lists %+v, want only %s", list, bobsForum)
	}
}

// A developer grants and revokes platform roles in the console; a billing
// operator reaches billing operations and nothing else of the platform;
// the last developer keeps the role.
func TestPlatformTeam(t *testing.T) {
	s := newSite(t)
	dev, _ := s.user("developer")
	carol, _ := s.user("owner")
	d := s.browser()
	d.login(dev, password)
	c := s.browser()
	c.login(carol, password)
	if status, _, _ := c.do("GET", "/dev/billing", nil, nil); status != http.StatusForbidden {
		t.Fatalf("an owner reached billing operations: %d", status)
	}
	if status, _, _ := c.do("GET", "/dev/team", nil, nil); status != http.StatusForbidden {
		t.Fatalf("an owner reached the platform team: %d", status)
	}
	if status, _, _ := d.do("POST", "/dev/team", url.Values{"email": {carol}, "role": {"owner"}}, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("an account role granted on the platform: %d", status)
	}
	if status, _, _ := d.do("POST", "/dev/team", url.Values{"email": {"nobody@example.test"}, "role": {"developer"}}, nil); status != http.StatusNotFound {
		t.Fatalf("a role granted to no user: %d", status)
	}
	if status, _, _ := d.do("POST", "/dev/team", url.Values{"email": {carol}, "role": {"billing-operator"}}, nil); status != http.StatusSeeOther {
		t.Fatalf("grant billing-operator: %d", status)
	}
	_, _, page := d.do("GET", "/dev/team", nil, nil)
	if !strings.Contains(page, carol) || !strings.Contains(page, "billing-operator") {
		t.Fatal("the platform team does not list the new billing operator")
	}
	if status, _, _ := c.do("GET", "/dev/billing", nil, nil); status != http.StatusOK {
		t.Fatalf("a billing operator cannot see billing operations: %d", status)
	}
	if status, _, _ := c.do("GET", "/dev", nil, nil); status != http.StatusForbidden {
		t.Fatalf("a billing operator reached the developers' pages: %d", status)
	}
	var carolID, devID string
	for _, q := range []struct{ email, id *string }{{&carol, &carolID}, {&dev, &devID}} {
		if err := s.control.DB.QueryRow(t.Context(), `SELECT id FROM users WHERE email = $1`, *q.email).Scan(q.id); err != nil {
			t.Fatal(err)
		}
	}
	if status, _, _ := d.do("POST", "/dev/team/"+carolID+"/billing-operator/revoke", url.Values{}, nil); status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	if status, _, _ := c.do("GET", "/dev/billing", nil, nil); status != http.StatusForbidden {
		t.Fatalf("a revoked billing operator still sees billing operations: %d", status)
	}
	if status, _, _ := d.do("POST", "/dev/team/"+devID+"/developer/revoke", url.Values{}, nil); status != http.StatusConflict {
		t.Fatalf("the last developer revoked themselves: %d, want 409", status)
	}
}

// loginToken logs in through the API for one of the user's accounts.
func loginToken(t *testing.T, s *site, email, accountID string) string {
	t.Helper()
	resp, err := http.Post(s.url+"/api/login", "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"`+password+`","account_id":"`+accountID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token     string `json:"token"`
		AccountID string `json:"account_id"`
	}
	if err := decodeJSON(resp, &out); err != nil || out.AccountID != accountID {
		t.Fatalf("API login for account %s: %d %v %+v", accountID, resp.StatusCode, err, out)
	}
	return out.Token
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
