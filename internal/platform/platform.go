// Package platform is Tenantry's service provider: the one place for the
// rules. Each operation takes the acting Principal and plain input, checks
// the permission it needs against the principal's grants, reads and writes
// the control database, starts or signals workflows through their Start…
// helpers, and returns plain results or a domain error (apperr). Front ends
// (the JSON API, the console, the command line, the broker) translate their
// requests into these calls and hold no rules of their own.
package platform

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/dbserver"
	"tenantry/internal/secret"
)

// Platform holds what the operations depend on.
type Platform struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Catalog  *catalog.Catalog
	Log      *slog.Logger
	// Cipher opens the broker bindings' sealed passwords and seals a new
	// database server's admin connection.
	Cipher *secret.Cipher
	Clock  func() time.Time
	// BillingPeriod shortens billing periods; zero is calendar months.
	BillingPeriod time.Duration
	// GracePeriod and SetupTimeout override the workflows' defaults (the
	// dev stack and tests shorten them); zero keeps them.
	GracePeriod  time.Duration
	SetupTimeout time.Duration
	// TemporalUI is the Temporal Web UI's base URL, for the developers'
	// links; empty leaves them out.
	TemporalUI string
	// Namespace is the Temporal namespace, for the Web UI's links.
	Namespace string
	// Fleet reaches the database servers as their admin roles; without it
	// (and Cipher) the fleet's operations answer an internal error.
	Fleet *dbserver.Pools
	// MoveGrace is how long a moved instance's old copy is kept; zero
	// keeps the workflow's default.
	MoveGrace time.Duration

	logins *loginLimiter
	closed closedRuns
	broker brokerLogins
}

// New fills the defaults of p (clock, logger) and returns it ready.
func New(p *Platform) *Platform {
	if p.Clock == nil {
		p.Clock = time.Now
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	p.logins = newLoginLimiter(p.DB, p.Clock)
	return p
}

// require refuses an operation the principal may not do. An account's
// operation needs an account to act on: a platform role's "*" reaches the
// accounts its holder belongs to, not an empty one.
func require(who Principal, perm string) error {
	if who.Can(perm) && (who.AccountID != "" || access.IsPlatformPermission(perm)) {
		return nil
	}
	if who.AccountID == "" && !access.IsPlatformPermission(perm) {
		return apperr.Forbidden("you belong to no account yet: ask an account's owner to invite you")
	}
	if access.IsPlatformPermission(perm) {
		return apperr.Forbidden("only platform operators may do this (it needs %s)", perm)
	}
	return apperr.Forbidden("you need the permission %s for this: ask an owner of the account", perm)
}

// Require lets a front end refuse a page or a request early with the same
// answer the operation behind it would give.
func Require(who Principal, perm string) error { return require(who, perm) }
