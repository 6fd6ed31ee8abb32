// Package access decides who may do what. Permissions are namespaced
// strings, "<service>.<action>" (forum.addUsers, instances.manage,
// console.admin), matched by patterns that may end in a "*" wildcard
// (forum.*, *). Roles bundle patterns; a user holds roles through grants:
// one role on each account they belong to, and platform roles that reach
// every account's operations.
package access

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The platform's own permissions; services add theirs in their manifests.
const (
	InstancesRead   = "instances.read"   // see the account's services and their progress
	InstancesManage = "instances.manage" // enable, set up, change modules, disable
	TeamRead        = "team.read"        // see the account's members
	TeamManage      = "team.manage"      // invite members, give roles
	AuditRead       = "audit.read"       // read the account's timeline
	BillingRead     = "billing.read"     // see prices and invoices
	ConsoleAdmin    = "console.admin"    // the developers' pages, every account
	ConsoleBilling  = "console.billing"  // revenue, failed closes and discounts, every account
)

// Platform lists the platform's permissions with what each allows.
var Platform = map[string]string{
	InstancesRead:   "See the account's services and their progress",
	InstancesManage: "Enable, set up, change and disable services",
	TeamRead:        "See the account's members and their roles",
	TeamManage:      "Invite members and give roles",
	AuditRead:       "Read the account's timeline",
	BillingRead:     "See prices and invoices",
	ConsoleAdmin:    "Operate the platform: every account, instance and workflow",
	ConsoleBilling:  "Operate billing: revenue, failed closes and discounts of every account",
}

// Roles bundle permission patterns. Owner holds everything on the account.
// The platform roles are granted on the platform, not on an account:
// developer operates the whole platform (and holds everything on the
// accounts it belongs to), billing-operator operates billing only.
var Roles = map[string][]string{
	"owner":            {"*"},
	"member":           {InstancesRead, AuditRead, "forum.*", "store.*"},
	"billing":          {BillingRead, InstancesRead, AuditRead},
	"developer":        {"*", "console.*"},
	"billing-operator": {ConsoleBilling},
}

// AccountRoles are the roles held on an account, in the order the console
// lists them; PlatformRoles are held on the platform.
var (
	AccountRoles  = []string{"owner", "member", "billing"}
	PlatformRoles = []string{"developer", "billing-operator"}
)

// IsAccountRole and IsPlatformRole tell where a role may be granted.
func IsAccountRole(role string) bool  { return slices.Contains(AccountRoles, role) }
func IsPlatformRole(role string) bool { return slices.Contains(PlatformRoles, role) }

var (
	permRe    = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-zA-Z][a-zA-Z0-9_]*$`)
	patternRe = regexp.MustCompile(`^(\*|[a-z][a-z0-9_]*\.(\*|[a-zA-Z][a-zA-Z0-9_]*))$`)
)

// CheckPermission says what is wrong with a permission's name.
func CheckPermission(p string) error {
	if !permRe.MatchString(p) {
		return fmt.Errorf("permission %q: want <service>.<action>, e.g. forum.addUsers", p)
	}
	return nil
}

// CheckPattern says what is wrong with a permission pattern.
func CheckPattern(p string) error {
	if !patternRe.MatchString(p) {
		return fmt.Errorf("permission %q: want <service>.<action>, <service>.* or *", p)
	}
	return nil
}

// PlatformNamespace holds the operators' permissions. A bare "*" does not
// reach into it (an account's owner holds "*" on the account, not the
// platform): it must be named, "console.*" or "console.admin".
const PlatformNamespace = "console."

// Match says whether pattern grants perm.
func Match(pattern, perm string) bool {
	if pattern == perm {
		return true
	}
	if pattern == "*" {
		return !strings.HasPrefix(perm, PlatformNamespace)
	}
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasSuffix(prefix, ".") && strings.HasPrefix(perm, prefix)
}

// Set is the permission patterns someone holds.
type Set []string

// Allows says whether the set grants perm.
func (s Set) Allows(perm string) bool {
	return slices.ContainsFunc(s, func(p string) bool { return Match(p, perm) })
}

// Covers says whether every pattern of sub is within the set: a token may
// only be scoped to what its user holds.
func (s Set) Covers(sub Set) bool {
	for _, p := range sub {
		if !slices.ContainsFunc(s, func(q string) bool { return Match(q, strings.TrimSuffix(p, "*")+wildcardProbe(p)) }) {
			return false
		}
	}
	return true
}

// wildcardProbe makes a pattern ending in "*" comparable: "forum.*" is
// within a set only when that set grants the whole forum namespace.
func wildcardProbe(p string) string {
	if strings.HasSuffix(p, "*") {
		return "*"
	}
	return ""
}

// OfRole is the permission set of a role; an unknown role grants nothing.
func OfRole(role string) Set { return Set(Roles[role]) }

// IsPlatformPermission says whether perm belongs to the platform's own
// namespace (granted by platform roles only).
func IsPlatformPermission(perm string) bool { return strings.HasPrefix(perm, PlatformNamespace) }
