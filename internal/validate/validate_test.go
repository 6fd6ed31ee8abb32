package validate_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/validate"
)

func TestHostCanonicalises(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"acme-forum.localhost", "acme-forum.localhost"},
		{"Acme-Forum.LOCALHOST.", "acme-forum.localhost"},
		{"  shop.example.com  ", "shop.example.com"},
		{"bücher.localhost", "xn--bcher-kva.localhost"},
		{"Bücher.Example.", "xn--bcher-kva.example"},
		{"a1.b2.c3", "a1.b2.c3"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := validate.Host(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestHostRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"localhost",
		"a b.localhost",
		"x'--.localhost",
		"x'; DROP TABLE accounts;--.localhost",
		"acme_forum.localhost",
		"-acme.localhost",
		"acme-.localhost",
		"acme..localhost",
		"acme.localhost:8080",
		"http://acme.localhost",
		"acme.localhost/path",
		strings.Repeat("a", 64) + ".localhost",
		strings.Repeat("abcdefghi.", 26) + "localhost",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := validate.Host(in)
			require.Error(t, err)
			assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
		})
	}
}

func TestEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"},
		{"a+tag@sub.example.org", "a+tag@sub.example.org"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := validate.Email(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, in := range []string{
		"",
		"ada",
		"ada@",
		"@example.com",
		"ada@localhost",
		"Ada <ada@example.com>",
		"ada@example.com, bob@example.com",
		"ada@exa mple.com",
		"ada'--@example.com;",
		strings.Repeat("a", 250) + "@example.com",
	} {
		t.Run("reject "+in, func(t *testing.T) {
			_, err := validate.Email(in)
			require.Error(t, err)
			assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
		})
	}
}

func TestName(t *testing.T) {
	got, err := validate.Name("name", "  O'Brien; DROP TABLE users;--  ")
	require.NoError(t, err)
	assert.Equal(t, "O'Brien; DROP TABLE users;--", got, "quotes and semicolons are plain text")

	for _, in := range []string{"", "   ", "tab\there", "new\nline", "del\x7f", strings.Repeat("é", 201)} {
		_, err := validate.Name("name", in)
		assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err), "%q", in)
	}
	_, err = validate.Name("name", strings.Repeat("é", 200))
	assert.NoError(t, err, "200 characters is the limit, counted in runes")
}

func TestPassword(t *testing.T) {
	assert.NoError(t, validate.Password("correct horse"))
	assert.Error(t, validate.Password("short"))
	assert.Error(t, validate.Password(strings.Repeat("x", 257)))
}

func TestLanguage(t *testing.T) {
	for _, l := range validate.Languages {
		assert.NoError(t, validate.Language(l))
	}
	for _, l := range []string{"", "EN", "xx", "en'--"} {
		assert.Equal(t, apperr.KindInvalid, apperr.KindOf(validate.Language(l)), "%q", l)
	}
}
