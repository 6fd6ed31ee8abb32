// Package catalog loads the services Tenantry sells from their folders
// (schemas/services/<name>/) and checks them, so a malformed manifest stops
// the process at start instead of failing a client's provisioning later.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/migrator"
)

// Catalog is every offered service, by name.
type Catalog struct {
	services map[string]*Service
	names    []string
}

// Service is one manifest plus its embedded migrations and seed.
type Service struct {
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Currency       string    `json:"currency"`
	CurrentVersion string    `json:"current_version"`
	Versions       []Version `json:"versions"`
	Modules        []Module  `json:"modules"`
	// Permissions are what the service lets a role do inside it, each
	// "<service>.<action>".
	Permissions []Permission `json:"permissions"`
	// Metered prices the requests the host router counts (zero: free).
	Metered MeteredPrice `json:"metered"`
	// Jobs are the background jobs clients may start on an instance.
	Jobs []Job `json:"jobs,omitempty"`

	// Migrations is a golang-migrate source folder; Seed is idempotent SQL.
	Migrations fs.FS  `json:"-"`
	Seed       string `json:"-"`
}

// MeteredPrice is a period's included request quota and the price per
// thousand requests beyond it, in minor units.
type MeteredPrice struct {
	IncludedRequests int64 `json:"included_requests"`
	PerThousandMinor int64 `json:"per_thousand_minor"`
}

// Version maps a released service version to the migration it needs and
// the modules it offers.
type Version struct {
	Version       string `json:"version"`
	SchemaVersion uint   `json:"schema_version"`
	// Modules a version offers; absent means every module of the service,
	// so a version that retires a module simply leaves it out.
	Modules []string `json:"modules,omitempty"`
}

// Module is a feature a client can enable, priced by the hour it is enabled.
//
// HourlyPriceMinor is the price until the first of PriceChanges; the price
// in effect at an instant t is the last change effective at or before t
// (see PriceAt). Editing HourlyPriceMinor is a change from the next start
// on; a scheduled change applies from its own instant, even when the worker
// is down then and applies it late.
type Module struct {
	Name             string        `json:"name"`
	Description      string        `json:"description"`
	Required         bool          `json:"required,omitempty"`
	HourlyPriceMinor int64         `json:"hourly_price_minor"`
	PriceChanges     []PriceChange `json:"price_changes,omitempty"`
}

// PriceChange is a scheduled price: from EffectiveAt (UTC, RFC 3339) on the
// module costs HourlyPriceMinor in the service's currency. A change removed
// from the manifest before its instant is cancelled; one edited before its
// instant applies the edited price.
type PriceChange struct {
	EffectiveAt      string `json:"effective_at"`
	HourlyPriceMinor int64  `json:"hourly_price_minor"`
}

// Effective is the change's instant; check has made sure it parses.
func (c PriceChange) Effective() time.Time {
	t, _ := time.Parse(time.RFC3339, c.EffectiveAt)
	return t.UTC()
}

// PriceAt is the module's price in effect at t, and the scheduled change it
// comes from (nil when it is the base price).
func (m Module) PriceAt(t time.Time) (int64, *PriceChange) {
	price, from := m.HourlyPriceMinor, (*PriceChange)(nil)
	for i, c := range m.PriceChanges {
		if c.Effective().After(t) {
			break
		}
		price, from = c.HourlyPriceMinor, &m.PriceChanges[i]
	}
	return price, from
}

// Permission is one action a service offers to grant.
type Permission struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

var (
	nameRe    = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)
	versionRe = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	currRe    = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Load reads and checks every service folder under root.
func Load(root fs.FS) (*Catalog, error) {
	entries, err := fs.ReadDir(root, ".")
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{services: map[string]*Service{}}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := loadService(root, e.Name())
		if err != nil {
			return nil, fmt.Errorf("catalog: service %q: %w", e.Name(), err)
		}
		c.services[s.Name] = s
		c.names = append(c.names, s.Name)
	}
	if len(c.names) == 0 {
		return nil, fmt.Errorf("catalog: no services found")
	}
	sort.Strings(c.names)
	return c, nil
}

func loadService(root fs.FS, dir string) (*Service, error) {
	raw, err := fs.ReadFile(root, path.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s Service
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if s.Name != dir {
		return nil, fmt.Errorf("manifest name %q must match its folder", s.Name)
	}
	seed, err := fs.ReadFile(root, path.Join(dir, "seed.sql"))
	if err != nil {
		return nil, err
	}
	s.Seed = string(seed)
	s.Migrations, err = fs.Sub(root, path.Join(dir, "migrations"))
	if err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Service) check() error {
	switch {
	case !nameRe.MatchString(s.Name):
		return fmt.Errorf("name %q: want lower-case letters, digits, underscores", s.Name)
	case strings.TrimSpace(s.Description) == "":
		return fmt.Errorf("description is empty")
	case !currRe.MatchString(s.Currency):
		return fmt.Errorf("currency %q: want an ISO 4217 code", s.Currency)
	case len(s.Modules) == 0:
		return fmt.Errorf("no modules")
	case s.Metered.IncludedRequests < 0 || s.Metered.PerThousandMinor < 0:
		return fmt.Errorf("metered prices must not be negative")
	case len(s.Versions) == 0:
		return fmt.Errorf("no versions")
	}
	maxMigration, err := s.checkMigrations()
	if err != nil {
		return err
	}
	seenM := map[string]bool{}
	for _, m := range s.Modules {
		if !nameRe.MatchString(m.Name) || seenM[m.Name] {
			return fmt.Errorf("module %q: want a unique lower-case name", m.Name)
		}
		if strings.TrimSpace(m.Description) == "" || m.HourlyPriceMinor < 0 {
			return fmt.Errorf("module %q: needs a description and a non-negative price", m.Name)
		}
		if err := checkPriceChanges(m.PriceChanges); err != nil {
			return fmt.Errorf("module %q: %w", m.Name, err)
		}
		seenM[m.Name] = true
	}
	seenV := map[string]bool{}
	var prev uint
	for i, v := range s.Versions {
		if !versionRe.MatchString(v.Version) || seenV[v.Version] {
			return fmt.Errorf("version %q: want a unique MAJOR.MINOR.PATCH", v.Version)
		}
		// Upgrades only go forward, and "forward" is the list's order.
		if i > 0 && CompareVersions(s.Versions[i-1].Version, v.Version) >= 0 {
			return fmt.Errorf("version %s: versions must be listed oldest first", v.Version)
		}
		if v.SchemaVersion == 0 || v.SchemaVersion < prev || v.SchemaVersion > maxMigration {
			return fmt.Errorf("version %s: schema_version %d must be ascending and have a migration", v.Version, v.SchemaVersion)
		}
		if err := s.checkVersionModules(v); err != nil {
			return err
		}
		seenV[v.Version], prev = true, v.SchemaVersion
	}
	if !seenV[s.CurrentVersion] {
		return fmt.Errorf("current_version %q is not among the versions", s.CurrentVersion)
	}
	seenP := map[string]bool{}
	for _, p := range s.Permissions {
		if err := access.CheckPermission(p.Name); err != nil || !strings.HasPrefix(p.Name, s.Name+".") || seenP[p.Name] {
			return fmt.Errorf("permission %q: want a unique %s.<action>", p.Name, s.Name)
		}
		if strings.TrimSpace(p.Description) == "" {
			return fmt.Errorf("permission %q: needs a description", p.Name)
		}
		seenP[p.Name] = true
	}
	if strings.TrimSpace(s.Seed) == "" {
		return fmt.Errorf("seed.sql is empty")
	}
	return s.checkJobs()
}

// checkPriceChanges demands UTC RFC 3339 instants (written with Z, so the
// instant reads the same in the manifest, the database and the workflow id),
// strictly increasing, and non-negative prices.
func checkPriceChanges(changes []PriceChange) error {
	var prev time.Time
	for i, c := range changes {
		t, err := time.Parse(time.RFC3339, c.EffectiveAt)
		if err != nil || !strings.HasSuffix(c.EffectiveAt, "Z") || t.Format(time.RFC3339) != c.EffectiveAt {
			return fmt.Errorf("price change %d: effective_at %q: want a UTC RFC 3339 instant like 2027-01-01T00:00:00Z", i+1, c.EffectiveAt)
		}
		if i > 0 && !t.After(prev) {
			return fmt.Errorf("price change %d: effective_at %s must be after %s", i+1, c.EffectiveAt, changes[i-1].EffectiveAt)
		}
		if c.HourlyPriceMinor < 0 {
			return fmt.Errorf("price change %d: a price must not be negative", i+1)
		}
		prev = t
	}
	return nil
}

// checkMigrations applies the migrator's rules for a folder
// (migrator.Check) and demands versions numbered 1, 2, 3...; it returns the
// highest.
func (s *Service) checkMigrations() (uint, error) {
	versions, err := migrator.Versions(s.Migrations)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	if len(versions) == 0 {
		return 0, fmt.Errorf("migrations: want numbered up/down pairs from 1")
	}
	for i, v := range versions {
		if v != uint(i+1) {
			return 0, fmt.Errorf("migrations: want versions numbered 1 to %d with no gap, found %d", len(versions), v)
		}
	}
	return uint(len(versions)), nil
}

// Names lists the services in name order.
func (c *Catalog) Names() []string { return slices.Clone(c.names) }

// Service finds a service or says it is not offered.
func (c *Catalog) Service(name string) (*Service, error) {
	s, ok := c.services[name]
	if !ok {
		return nil, apperr.Invalid("service %q is not offered (choose one of: %s)", name, strings.Join(c.names, ", "))
	}
	return s, nil
}

// Version finds a released version of the service.
func (s *Service) Version(v string) (Version, error) {
	for _, x := range s.Versions {
		if x.Version == v {
			return x, nil
		}
	}
	return Version{}, apperr.Invalid("%s has no version %q", s.Name, v)
}

// Module finds a module of the service.
func (s *Service) Module(name string) (Module, bool) {
	for _, m := range s.Modules {
		if m.Name == name {
			return m, true
		}
	}
	return Module{}, false
}

// ResolveModules checks a client's choice for an instance on version and
// returns it normalised: every required module included, no duplicates, in
// manifest order. A module the service has but the version does not offer
// is refused like an unknown one.
func (s *Service) ResolveModules(version string, chosen []string) ([]string, error) {
	offered, err := s.OfferedModules(version)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, name := range chosen {
		if !slices.Contains(offered, name) {
			if _, known := s.Module(name); known {
				return nil, apperr.Invalid("%s %s does not offer the module %q (offered: %s)", s.Name, version, name, strings.Join(offered, ", "))
			}
			return nil, apperr.Invalid("%s has no module %q (offered: %s)", s.Name, name, strings.Join(offered, ", "))
		}
		want[name] = true
	}
	var out []string
	for _, m := range s.Modules {
		if m.Required || want[m.Name] {
			out = append(out, m.Name)
		}
	}
	return out, nil
}
