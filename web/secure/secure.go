// Package secure holds what every Tenantry page and answer carries for the
// browser's protection: the security headers (a content security policy
// that allows only the site's own scripts and styles, so htmx served from
// /assets works and injected markup runs nothing; no framing; no MIME
// sniffing; no full URLs in Referer) and the cross-origin refusal of
// state-changing requests, for the console and API and for the tenants'
// pages alike.
package secure

import "net/http"

// Policy is the content security policy of every page: nothing inline,
// nothing from elsewhere, never in a frame.
const Policy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Headers sets the security headers on every answer of next.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", Policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		next.ServeHTTP(w, r)
	})
}

// SameOrigin refuses state-changing requests sent from another site (Go's
// CrossOriginProtection: Sec-Fetch-Site, then Origin against Host) with
// deny's answer; forms need no token for it.
func SameOrigin(next, deny http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(deny)
	return cop.Handler(next)
}
