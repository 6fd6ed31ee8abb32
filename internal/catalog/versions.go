package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// checkVersionModules demands that a version's module list, when it has
// one, names known modules once each and keeps every required module: an
// instance must never be upgraded out of what it cannot run without.
func (s *Service) checkVersionModules(v Version) error {
	if v.Modules == nil {
		return nil
	}
	if len(v.Modules) == 0 {
		return fmt.Errorf("version %s: modules is empty (leave it out to offer every module)", v.Version)
	}
	seen := map[string]bool{}
	for _, name := range v.Modules {
		if _, ok := s.Module(name); !ok || seen[name] {
			return fmt.Errorf("version %s: module %q is unknown or listed twice", v.Version, name)
		}
		seen[name] = true
	}
	for _, m := range s.Modules {
		if m.Required && !seen[m.Name] {
			return fmt.Errorf("version %s: the required module %q must be offered", v.Version, m.Name)
		}
	}
	return nil
}

// OfferedModules lists the modules a version offers, in manifest order.
func (s *Service) OfferedModules(version string) ([]string, error) {
	v, err := s.Version(version)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range s.Modules {
		if v.Modules == nil || slices.Contains(v.Modules, m.Name) {
			out = append(out, m.Name)
		}
	}
	return out, nil
}

// DroppedModules lists which of an instance's modules the target version no
// longer offers: what an upgrade to it removes (and stops billing).
func (s *Service) DroppedModules(modules []string, target string) ([]string, error) {
	offered, err := s.OfferedModules(target)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range modules {
		if !slices.Contains(offered, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// CompareVersions orders two MAJOR.MINOR.PATCH versions like cmp.Compare.
// Both must be well formed (the catalog checked every version it holds).
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}
