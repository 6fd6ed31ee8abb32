package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/testenv"
)

// Developers register a server (checked first; its admin URL never shown
// again), see the fleet with its load, drain a server and check one, in
// the console and the JSON API; nobody else may.
func TestDatabaseServersPagesAndAPI(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("developer")
	b := s.browser()
	status, _ := b.login(email, password)
	require.Equal(t, http.StatusSeeOther, status)

	second := testenv.SecondServerURL(t)
	cfg, err := pgx.ParseConfig(second)
	require.NoError(t, err)
	secretBits := []string{cfg.Password, url.QueryEscape(cfg.Password), second}

	status, where, _ := b.do("POST", "/dev/servers", url.Values{"name": {"pg-two"}, "admin_url": {second}, "capacity": {"5"}}, nil)
	require.Equal(t, http.StatusSeeOther, status)
	assert.Equal(t, "/dev/servers/pg-two", where)
	status, _, body := b.do("GET", "/dev/servers", nil, nil)
	require.Equal(t, http.StatusOK, status)
	body = html.UnescapeString(body)
	for _, want := range []string{"pg-two is registered and takes new instances.", "local", "pg-two", "0 of 5", "to tenants"} {
		assert.Contains(t, body, want)
	}
	status, _, page := b.do("GET", "/dev/servers/pg-two", nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "0 of 5")
	assert.NotContains(t, page, "Drain this server", "nothing to move yet")

	// A server that fails its check is refused with why; what was typed
	// stays but the admin URL.
	bad := strings.Replace(second, cfg.Password, "wrong-password", 1)
	status, _, body = b.do("POST", "/dev/servers", url.Values{"name": {"pg-bad"}, "admin_url": {bad}}, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, html.UnescapeString(body), "cannot connect with the admin URL")
	assert.NotContains(t, body, "wrong-password")

	status, where, _ = b.do("POST", "/dev/servers/pg-two/state", url.Values{"state": {"draining"}}, nil)
	require.Equal(t, http.StatusSeeOther, status)
	status, _, page = b.do("GET", where, nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "pg-two is draining.")
	assert.Contains(t, page, "Take new instances again")

	// The JSON API, with a developer's token.
	api := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken(t, s, email))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var raw json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		return resp.StatusCode, string(raw)
	}
	status, list := api("GET", "/api/ops/servers", "")
	require.Equal(t, http.StatusOK, status)
	var servers struct {
		Servers []struct {
			Name, State string
			Capacity    int
			Load        *struct {
				MaxConnections int `json:"max_connections"`
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(list), &servers))
	require.Len(t, servers.Servers, 2)
	assert.Equal(t, "pg-two", servers.Servers[1].Name)
	assert.Equal(t, "draining", servers.Servers[1].State)
	require.NotNil(t, servers.Servers[1].Load, list)
	assert.Positive(t, servers.Servers[1].Load.MaxConnections)
	status, answer := api("PUT", "/api/ops/servers/pg-two/state", `{"state": "active"}`)
	assert.Equal(t, http.StatusOK, status, answer)
	status, answer = api("POST", "/api/ops/servers/pg-two/check", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `[]`, string(mustField(t, answer, "problems")), answer)
	status, answer = api("POST", "/api/ops/servers", `{"name": "pg-two", "admin_url": "`+second+`"}`)
	assert.Equal(t, http.StatusConflict, status, answer)
	status, _ = api("GET", "/api/ops/servers/nowhere", "")
	assert.Equal(t, http.StatusNotFound, status)

	for _, text := range []string{list, page, body, answer} {
		for _, bit := range secretBits {
			assert.NotContains(t, text, bit, "the admin connection is never shown")
		}
	}

	// An account's owner is no operator.
	owner, _ := s.user("owner")
	ob := s.browser()
	status, _ = ob.login(owner, password)
	require.Equal(t, http.StatusSeeOther, status)
	status, _, _ = ob.do("GET", "/dev/servers", nil, nil)
	assert.Equal(t, http.StatusForbidden, status)
	status, _, _ = ob.do("POST", "/dev/servers/pg-two/drain", url.Values{}, nil)
	assert.Equal(t, http.StatusForbidden, status)
}

func mustField(t *testing.T, raw, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(raw), &m))
	return m[field]
}
