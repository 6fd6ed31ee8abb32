package secret_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/secret"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	hash := secret.HashPassword("correct horse battery")
	assert.Regexp(t, `^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`, hash)
	assert.True(t, secret.LooksLikePasswordHash(hash))
	assert.True(t, secret.VerifyPassword(hash, "correct horse battery"))
	assert.False(t, secret.VerifyPassword(hash, "correct horse battery "))
	assert.False(t, secret.VerifyPassword(hash, "wrong password"))
	assert.NotEqual(t, hash, secret.HashPassword("correct horse battery"), "every hash has its own salt")
}

func TestVerifyPasswordRejectsMalformedHashes(t *testing.T) {
	good := secret.HashPassword("pw")
	parts := strings.Split(good, "$")
	for name, hash := range map[string]string{
		"empty":        "",
		"clear text":   "pw",
		"bcrypt":       "$2a$10$abcdefghijklmnopqrstuu",
		"argon2i":      strings.Replace(good, "argon2id", "argon2i", 1),
		"bad version":  strings.Replace(good, "v=19", "v=18", 1),
		"bad params":   strings.Replace(good, parts[3], "m=x", 1),
		"bad salt":     strings.Replace(good, parts[4], "!!!", 1),
		"missing part": strings.Join(parts[:5], "$"),
		"empty key":    strings.Join(parts[:5], "$") + "$",
		"short key":    strings.Join(parts[:5], "$") + "$AAAA",
		"zero rounds":  strings.Replace(good, "t=3", "t=0", 1),
		"zero threads": strings.Replace(good, "p=2", "p=0", 1),
		"huge memory":  strings.Replace(good, "m=65536", "m=4294967295", 1),
	} {
		assert.NotPanics(t, func() {
			assert.False(t, secret.VerifyPassword(hash, "pw"), name)
		}, name)
	}
	assert.False(t, secret.LooksLikePasswordHash("correct horse battery"))
	assert.False(t, secret.LooksLikePasswordHash("$argon2id$only$three"))
}

func newCipher(t *testing.T) *secret.Cipher {
	t.Helper()
	c, err := secret.NewCipher(secret.NewKey())
	require.NoError(t, err)
	return c
}

func TestCipherSealOpen(t *testing.T) {
	c := newCipher(t)
	plain := []byte("s3cret password")
	sealed := c.Seal(plain, []byte("instance:a"))
	assert.False(t, bytes.Contains(sealed, plain), "sealed value must not contain the plaintext")
	assert.NotEqual(t, sealed, c.Seal(plain, []byte("instance:a")), "every seal has its own nonce")

	got, err := c.Open(sealed, []byte("instance:a"))
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	_, err = c.Open(sealed, []byte("instance:b"))
	assert.Error(t, err, "a value copied to another owner must not decrypt")

	_, err = newCipher(t).Open(sealed, []byte("instance:a"))
	assert.Error(t, err, "another key must not decrypt")

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	_, err = c.Open(tampered, []byte("instance:a"))
	assert.Error(t, err)

	_, err = c.Open([]byte("short"), nil)
	assert.Error(t, err)
}

func TestNewCipherRejectsBadKeys(t *testing.T) {
	for _, key := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		_, err := secret.NewCipher(key)
		assert.Error(t, err, "%q", key)
	}
}

func TestNewDatabasePassword(t *testing.T) {
	pw := secret.NewDatabasePassword()
	assert.Regexp(t, `^[0-9a-f]{48}$`, pw)
	assert.NotEqual(t, pw, secret.NewDatabasePassword())
}

var scramRe = regexp.MustCompile(`^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)

// TestScramVerifier recomputes the verifier from its salt as PostgreSQL
// would (RFC 5802/7677), so a wrong key derivation cannot slip through.
func TestScramVerifier(t *testing.T) {
	password := secret.NewDatabasePassword()
	v := secret.ScramVerifier(password)
	m := scramRe.FindStringSubmatch(v)
	require.NotNil(t, m, "verifier %q has the wrong format", v)
	dec := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		return b
	}
	salt, storedKey, serverKey := dec(m[1]), dec(m[2]), dec(m[3])
	require.Len(t, salt, 16)

	salted, err := pbkdf2.Key(sha256.New, password, salt, 4096, sha256.Size)
	require.NoError(t, err)
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, salted)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	wantStored := sha256.Sum256(mac("Client Key"))
	assert.Equal(t, hex.EncodeToString(wantStored[:]), hex.EncodeToString(storedKey))
	assert.Equal(t, hex.EncodeToString(mac("Server Key")), hex.EncodeToString(serverKey))

	assert.NotContains(t, v, password)
	assert.NotEqual(t, v, secret.ScramVerifier(password), "every verifier has its own salt")
	assert.NotContains(t, v, "'", "the verifier is spliced into CREATE ROLE and must need no quoting")
}
