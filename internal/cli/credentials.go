package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Login is a login token saved for one server.
type Login struct {
	Token     string    `json:"token"`
	Email     string    `json:"email"`
	AccountID string    `json:"account_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// credentials is the saved file: a login per server URL and the server
// of the last login, which commands use when none is named.
type credentials struct {
	Current string           `json:"current,omitempty"`
	Servers map[string]Login `json:"servers"`
}

// store keeps the credentials in <config folder>/tenantry/credentials.json,
// readable by the user only (0600, in a 0700 folder).
type store struct{ dir string }

// CredentialsFile is the file's name in the tenantry config folder.
const CredentialsFile = "credentials.json"

func newStore(configDir string) *store { return &store{dir: filepath.Join(configDir, "tenantry")} }

func (s *store) path() string { return filepath.Join(s.dir, CredentialsFile) }

func (s *store) load() (credentials, error) {
	c := credentials{Servers: map[string]Login{}}
	b, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is damaged (%v): delete it and log in again", s.path(), err)
	}
	if c.Servers == nil {
		c.Servers = map[string]Login{}
	}
	return c, nil
}

// save replaces the file at once (a temporary file renamed over it), so
// a reader never sees half of it; it is never readable by others.
func (s *store) save(c credentials) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.path())
}

// update loads, changes and saves the credentials.
func (s *store) update(change func(*credentials)) error {
	c, err := s.load()
	if err != nil {
		return err
	}
	change(&c)
	return s.save(c)
}
