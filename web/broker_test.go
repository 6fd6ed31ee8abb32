package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	brokerUser = regexp.MustCompile(`id="broker-username">([^<]+)<`)
	brokerPass = regexp.MustCompile(`id="broker-password">([^<]+)<`)
	revokeForm = regexp.MustCompile(`action="(/broker/[0-9a-f-]+/revoke)"`)
)

// catalogStatus asks the broker's catalog with basic auth.
func catalogStatus(t *testing.T, base, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v2/catalog", nil)
	req.SetBasicAuth(user, pass)
	req.Header.Set("X-Broker-API-Version", "2.16")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBrokerCredentialsFromTheConsole: an owner makes broker credentials
// (the password shown once), a platform signs in with them from an allowed
// address, and once revoked they are refused.
func TestBrokerCredentialsFromTheConsole(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	b := s.browser()
	b.login(email, password)
	if status, _, body := b.do("POST", "/broker", url.Values{"name": {"cf"}, "allowed_from": {"example.com"}}, nil); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "CIDR") {
		t.Fatalf("a bad allow-list: %d", status)
	}
	status, _, page := b.do("POST", "/broker", url.Values{"name": {"cf"}, "allowed_from": {"127.0.0.1, ::1"}}, nil)
	u, p := brokerUser.FindStringSubmatch(page), brokerPass.FindStringSubmatch(page)
	if status != http.StatusCreated || u == nil || p == nil {
		t.Fatalf("made credentials: %d", status)
	}
	if got := catalogStatus(t, s.url, u[1], p[1]); got != http.StatusOK {
		t.Fatalf("the catalog with the new credentials: %d", got)
	}
	if got := catalogStatus(t, s.url, u[1], p[1]+"x"); got != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d", got)
	}
	_, _, list := b.do("GET", "/broker", nil, nil)
	if strings.Contains(list, p[1]) || !strings.Contains(list, u[1]) {
		t.Error("the list shows the password, or not the user")
	}
	m := revokeForm.FindStringSubmatch(list)
	if m == nil {
		t.Fatal("no Revoke button")
	}
	if status, _, _ := b.do("POST", m[1], url.Values{}, nil); status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", status)
	}
	if got := catalogStatus(t, s.url, u[1], p[1]); got != http.StatusUnauthorized {
		t.Errorf("revoked credentials: %d", got)
	}
}
