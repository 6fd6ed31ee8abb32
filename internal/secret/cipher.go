// Package secret encrypts tenant credentials at rest and hashes passwords.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Cipher seals small secrets with AES-256-GCM. The nonce is stored in front
// of the ciphertext, so one value is all a column needs.
type Cipher struct {
	aead cipher.AEAD
}

// KeyEnv names the environment variable that holds the base64 key.
const KeyEnv = "TENANTRY_SECRET_KEY"

// NewKey returns a fresh random 32-byte key, base64 encoded.
func NewKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// NewCipher parses a base64 32-byte key.
func NewCipher(keyB64 string) (*Cipher, error) {
	key, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s must be 32 bytes, base64 encoded", KeyEnv)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext; aad binds the ciphertext to its owner (for example
// the instance ID) so a value copied to another row does not decrypt.
func (c *Cipher) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	_, _ = rand.Read(nonce)
	return c.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal produced with the same aad.
func (c *Cipher) Open(sealed, aad []byte) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("secret: sealed value too short")
	}
	out, err := c.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("secret: cannot decrypt (wrong key or tampered value)")
	}
	return out, nil
}
