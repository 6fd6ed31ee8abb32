// Package validate holds the input rules shared by the API (to answer 4xx at
// once) and the workflows (which re-check, because they are the authority).
// Every function is pure, so workflow update validators may call it.
package validate

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"tenantry/internal/apperr"
)

// Languages a service instance can be set up in.
var Languages = []string{"en", "de", "fr", "es"}

// Email normalises an address to lower case and checks its form.
func Email(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", apperr.Invalid("%q is not a valid email address", s)
	}
	return s, nil
}

// Name checks a human or account name: 1 to 200 printable characters.
func Name(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > 200 {
		return "", apperr.Invalid("%s must be 1 to 200 characters", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", apperr.Invalid("%s must not contain control characters", field)
		}
	}
	return s, nil
}

// Password checks a new password's strength before it is hashed.
func Password(s string) error {
	n := utf8.RuneCountInString(s)
	if n < 10 || n > 256 {
		return apperr.Invalid("password must be 10 to 256 characters")
	}
	return nil
}

var labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Host turns what a client typed into the canonical host name a request's
// Host header will be matched against: lower case, no port, no trailing dot,
// international names in their ASCII (punycode) form.
func Host(s string) (string, error) {
	in := strings.TrimSuffix(strings.TrimSpace(s), ".")
	ascii, err := idna.Lookup.ToASCII(in)
	if err != nil {
		return "", apperr.Invalid("host %q is not a valid host name", s)
	}
	labels := strings.Split(ascii, ".")
	if len(ascii) > 253 || len(labels) < 2 {
		return "", apperr.Invalid("host %q must be a full host name such as acme-forum.localhost", s)
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return "", apperr.Invalid("host %q is not a valid host name", s)
		}
	}
	return ascii, nil
}

// Language checks a setup language.
func Language(s string) error {
	for _, l := range Languages {
		if s == l {
			return nil
		}
	}
	return apperr.Invalid("language %q is not supported (choose one of: %s)", s, strings.Join(Languages, ", "))
}
