package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"tenantry/web/secure"
)

// Console pages and API answers carry the security headers, and the
// console's markup has nothing inline the policy would block: htmx and the
// stylesheet come from /assets.
func TestSecurityHeadersAndNothingInline(t *testing.T) {
	s := newSite(t)
	email, _ := s.user("owner")
	b := s.browser()
	if status, _ := b.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/login", "/dashboard", "/enable", "/billing", "/team", "/docs"} {
		resp, body := getPage(t, b, path)
		for name, want := range map[string]string{
			"Content-Security-Policy": secure.Policy, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "strict-origin-when-cross-origin", "X-Frame-Options": "DENY",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s has inline code or style the policy blocks: %q", path, m)
		}
	}
	if !strings.Contains(secure.Policy, "frame-ancestors 'none'") || strings.Contains(secure.Policy, "unsafe-") {
		t.Fatalf("policy: %s", secure.Policy)
	}
	for _, asset := range []string{"/assets/console.css", "/assets/htmx.min.js"} {
		if resp, _ := getPage(t, b, asset); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", asset, resp.StatusCode)
		}
	}
	a := send(t, "GET", s.url+"/api/catalog", "", "", nil)
	if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Content-Security-Policy") == "" {
		t.Errorf("API answer without security headers: %v", a.header)
	}
}

func getPage(t *testing.T, b *browser, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.site.url+path, nil)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}
