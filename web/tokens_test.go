package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tenantry/internal/client"
	"tenantry/internal/platform"
	"tenantry/internal/testenv"
)

// newToken makes an API token in the console and returns it as shown once.
func (b *browser) newToken(status int, form url.Values) string {
	b.t.Helper()
	got, _, body := b.do("POST", "/tokens", form, nil)
	if got != status {
		b.t.Fatalf("create token %v: %d, want %d", form, got, status)
	}
	_, rest, ok := strings.Cut(body, `<code id="new-token">`)
	if !ok {
		return ""
	}
	return rest[:strings.Index(rest, "<")]
}

func bearerStatus(t *testing.T, base, method, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAPITokensAreScopedAndShownOnce(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	b := s.browser()
	b.login(email, password)

	token := b.newToken(http.StatusCreated, url.Values{"name": {"reader"}, "permissions": {"instances.read"}})
	if !strings.HasPrefix(token, "tpat_") {
		t.Fatalf("token %q", token)
	}
	if got := bearerStatus(t, s.url, "GET", "/api/instances", token); got != http.StatusOK {
		t.Fatalf("scoped read: %d", got)
	}
	if got := bearerStatus(t, s.url, "POST", "/api/instances", token); got != http.StatusForbidden {
		t.Fatalf("a read-only token enabled a service: %d, want 403", got)
	}
	// Shown once: the list never shows it again, and only its hash is stored.
	if _, _, body := b.do("GET", "/tokens", nil, nil); strings.Contains(body, token) || !strings.Contains(body, "reader") {
		t.Fatal("the token list shows the secret or lacks the token")
	}
	var stored int
	_ = s.control.DB.QueryRow(context.Background(), `SELECT count(*) FROM api_tokens WHERE token_hash = sha256($1::bytea)`, []byte(token)).Scan(&stored)
	if stored != 1 {
		t.Fatal("the token's SHA-256 is not what is stored")
	}

	b.newToken(http.StatusUnprocessableEntity, url.Values{"name": {"none"}})
	b.newToken(http.StatusUnprocessableEntity, url.Values{"name": {"bad"}, "permissions": {"forum.add*"}})
	b.newToken(http.StatusUnprocessableEntity, url.Values{"name": {"x"}, "permissions": {"instances.read"}, "expires_days": {"0"}})

	// A member cannot give a token more than they hold.
	memberEmail, _ := s.user("member")
	m := s.browser()
	m.login(memberEmail, password)
	m.newToken(http.StatusForbidden, url.Values{"name": {"too much"}, "permissions": {"instances.manage"}})
	m.newToken(http.StatusForbidden, url.Values{"name": {"all"}, "permissions": {"*"}})
	mt := m.newToken(http.StatusCreated, url.Values{"name": {"ok"}, "permissions": {"forum.*"}})
	if got := bearerStatus(t, s.url, "GET", "/api/instances", mt); got != http.StatusForbidden {
		t.Fatalf("a forum-only token listed instances: %d", got)
	}

	// An expired token is refused.
	expiring := b.newToken(http.StatusCreated, url.Values{"name": {"short"}, "permissions": {"instances.read"}, "expires_days": {"1"}})
	if _, err := s.control.DB.Exec(context.Background(), `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'`); err != nil {
		t.Fatal(err)
	}
	if got := bearerStatus(t, s.url, "GET", "/api/instances", expiring); got != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", got)
	}
}

func TestRevokedTokenIsRefusedBySecondProcessWithinOneSecond(t *testing.T) {
	s := newSite(t)
	second := process(t, s.control)
	email, _ := s.user("owner")
	b := s.browser()
	b.login(email, password)
	token := b.newToken(http.StatusCreated, url.Values{"name": {"ci"}, "permissions": {"instances.read"}})

	// The second process resolves it and caches the answer.
	for range 3 {
		if got := bearerStatus(t, second, "GET", "/api/instances", token); got != http.StatusOK {
			t.Fatalf("second process: %d", got)
		}
	}
	var id string
	if err := s.control.DB.QueryRow(context.Background(), `SELECT id FROM api_tokens WHERE name = 'ci'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	// Another user cannot revoke it: not found.
	other, _ := s.user("owner")
	o := s.browser()
	o.login(other, password)
	if got, _, _ := o.do("POST", "/tokens/"+id+"/revoke", url.Values{}, nil); got != http.StatusNotFound {
		t.Fatalf("another user's revoke: %d, want 404", got)
	}
	if got := bearerStatus(t, second, "GET", "/api/instances", token); got != http.StatusOK {
		t.Fatalf("after a refused revoke: %d", got)
	}

	// The second process answers from its cache: a change behind its back
	// (no notification) is not seen until the TTL backstop...
	if _, err := s.control.DB.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if got := bearerStatus(t, second, "GET", "/api/instances", token); got != http.StatusOK {
		t.Fatalf("the second process did not answer from its cache: %d", got)
	}
	// ... while a revoke through the console notifies every process.
	if got, _, _ := b.do("POST", "/tokens/"+id+"/revoke", url.Values{}, nil); got != http.StatusSeeOther {
		t.Fatalf("revoke: %d", got)
	}
	revoked := time.Now()
	for bearerStatus(t, second, "GET", "/api/instances", token) != http.StatusUnauthorized {
		if time.Since(revoked) > time.Second {
			t.Fatal("the second process still accepts the revoked token after one second")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused by the second process %s after the revoke", time.Since(revoked).Round(time.Millisecond))
}

// A role change reaches a token's cached resolution on every process too.
func TestRoleChangeReachesCachedTokens(t *testing.T) {
	s := newSite(t)
	second := process(t, s.control)
	email, _ := s.user("owner")
	b := s.browser()
	b.login(email, password)
	b.do("POST", "/team", url.Values{"email": {"dev@example.test"}, "name": {"Dev"}, "role": {"owner"}}, nil)
	var devID string
	_ = s.control.DB.QueryRow(context.Background(), `SELECT id FROM users WHERE email = 'dev@example.test'`).Scan(&devID)
	if _, err := s.control.DB.Exec(context.Background(), `UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = $1) WHERE id = $2`, email, devID); err != nil {
		t.Fatal(err)
	}
	d := s.browser()
	d.login("dev@example.test", password)
	token := d.newToken(http.StatusCreated, url.Values{"name": {"deploy"}, "permissions": {"instances.manage"}})
	if got := bearerStatus(t, second, "POST", "/api/instances", token); got != http.StatusUnprocessableEntity {
		t.Fatalf("owner's manage token: %d", got)
	}
	if got, _, _ := b.do("POST", "/team/"+devID+"/role", url.Values{"role": {"member"}}, nil); got != http.StatusSeeOther {
		t.Fatalf("role change: %d", got)
	}
	changed := time.Now()
	for bearerStatus(t, second, "POST", "/api/instances", token) != http.StatusForbidden {
		if time.Since(changed) > time.Second {
			t.Fatal("the demoted user's token still manages after one second")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The API makes, lists and revokes API tokens like the console: scoped to
// what the caller holds, the secret in the creating answer only, another
// user's token not found, a revoked token refused at once.
func TestAPITokensOverTheAPI(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	email, accountID := s.user("member")
	me := client.New(s.url, apiToken(t, s, email))

	got, err := me.CreateToken(ctx, platform.NewAPIToken{Name: "ci", Permissions: []string{"instances.read"}, ExpiresInDays: 30})
	if err != nil || !strings.HasPrefix(got.Token, platform.APITokenPrefix) || got.AccountID != accountID ||
		got.State != "active" || got.ExpiresAt == nil {
		t.Fatalf("create: %+v %v", got, err)
	}
	for _, bad := range []struct {
		in   platform.NewAPIToken
		want int
	}{
		{platform.NewAPIToken{Name: "none"}, http.StatusUnprocessableEntity},
		{platform.NewAPIToken{Name: "x", Permissions: []string{"instances.read"}, ExpiresInDays: -1}, http.StatusUnprocessableEntity},
		{platform.NewAPIToken{Name: "too much", Permissions: []string{"instances.manage"}}, http.StatusForbidden},
	} {
		if _, err := me.CreateToken(ctx, bad.in); client.StatusOf(err) != bad.want || err.Error() == "" {
			t.Errorf("%+v: %v (status %d), want %d", bad.in, err, client.StatusOf(err), bad.want)
		}
	}
	list, err := me.Tokens(ctx)
	if err != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != got.ID || !slices.Contains(list.Permissions, "instances.read") ||
		slices.Contains(list.Permissions, "instances.manage") {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A token acts within its scope, and makes tokens only within it.
	scoped := client.New(s.url, got.Token)
	if _, err := scoped.Instances(ctx); err != nil {
		t.Fatalf("the new token cannot read instances: %v", err)
	}
	if _, err := scoped.CreateToken(ctx, platform.NewAPIToken{Name: "wider", Permissions: []string{"forum.*"}}); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("a token widened itself: %v", err)
	}

	otherEmail, _ := s.user("owner")
	other := client.New(s.url, apiToken(t, s, otherEmail))
	if err := other.RevokeToken(ctx, got.ID); client.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("another user's revoke: %v", err)
	}
	if err := me.RevokeToken(ctx, got.ID); err != nil {
		t.Fatal(err)
	}
	// The processes drop their cached resolution on the revoke's NOTIFY.
	testenv.Eventually(t, time.Second, 10*time.Millisecond, "the revoked token to be refused", func() bool {
		_, err := scoped.Instances(ctx)
		return client.StatusOf(err) == http.StatusUnauthorized
	})
	if list, _ := me.Tokens(ctx); len(list.Tokens) != 1 || list.Tokens[0].State != "revoked" {
		t.Fatalf("after revoke: %+v", list)
	}
}
