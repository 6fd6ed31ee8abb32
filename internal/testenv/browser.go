package testenv

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Browser is one end user of one tenant host talking to a host router: it
// sends Host, keeps its session cookie and does not follow redirects.
type Browser struct {
	T       testing.TB
	Base    string // the router's base URL
	Host    string // the tenant host to ask for
	Session string // the tenant session cookie, once set
	// Header is sent with every request (e.g. Sec-Fetch-Site).
	Header http.Header
}

// Answer is a router's response.
type Answer struct {
	Status int
	Body   string
	Header http.Header
}

// SessionCookie is the tenant pages' session cookie name.
const SessionCookie = "tenantry_session"

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Do sends a request, with form as its url-encoded body when not nil.
func (b *Browser) Do(method, path string, form url.Values) Answer {
	b.T.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		b.T.Fatal(err)
	}
	req.Host = b.Host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	if b.Session != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.Session})
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			b.Session = ck.Value
		}
	}
	return Answer{Status: resp.StatusCode, Body: string(raw), Header: resp.Header}
}

// Get sends a GET.
func (b *Browser) Get(path string) Answer { b.T.Helper(); return b.Do("GET", path, nil) }

// Post sends a form.
func (b *Browser) Post(path string, form url.Values) Answer {
	b.T.Helper()
	return b.Do("POST", path, form)
}

// MustSee demands 200 and every wanted string in the page, and returns it.
func (b *Browser) MustSee(path string, want ...string) string {
	b.T.Helper()
	a := b.Get(path)
	if a.Status != http.StatusOK {
		b.T.Fatalf("GET %s%s: status %d: %s", b.Host, path, a.Status, a.Body)
	}
	for _, w := range want {
		if !strings.Contains(a.Body, w) {
			b.T.Fatalf("GET %s%s: %q not in page:\n%s", b.Host, path, w, a.Body)
		}
	}
	return a.Body
}

// Eventually polls cond every interval until it holds, or fails the test
// when within has passed.
func Eventually(tb testing.TB, within, every time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(every)
	}
}
