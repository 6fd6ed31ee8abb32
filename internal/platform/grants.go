package platform

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/validate"
)

// PlatformGrant is one user's role on the platform.
type PlatformGrant struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	GrantedBy string    `json:"granted_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// PlatformTeam lists who holds a platform role.
func (p *Platform) PlatformTeam(ctx context.Context, who Principal) ([]PlatformGrant, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT u.id::text, u.email, u.name, g.role, coalesce(b.email, ''), g.created_at
		FROM grants g JOIN users u ON u.id = g.user_id LEFT JOIN users b ON b.id = g.granted_by
		WHERE g.account_id IS NULL ORDER BY g.role, u.email`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[PlatformGrant])
}

// GrantPlatformRole gives a user (by email; they must have signed up or
// been invited) a platform role. Developers grant from the console.
func (p *Platform) GrantPlatformRole(ctx context.Context, who Principal, email, role string) (PlatformGrant, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return PlatformGrant{}, err
	}
	return p.grantPlatformRole(ctx, who.UserID, email, role)
}

// BootstrapPlatformRole is the operator's command (`tenantry grant`): it
// grants a platform role with no principal, for the first developer. Only
// whoever holds the control database's credentials can run it.
func (p *Platform) BootstrapPlatformRole(ctx context.Context, email, role string) (PlatformGrant, error) {
	return p.grantPlatformRole(ctx, "", email, role)
}

func (p *Platform) grantPlatformRole(ctx context.Context, by, email, role string) (PlatformGrant, error) {
	email, err := validate.Email(email)
	if err != nil {
		return PlatformGrant{}, err
	}
	if !access.IsPlatformRole(role) {
		return PlatformGrant{}, apperr.Invalid("role %q: choose developer or billing-operator (account roles are given on the account's team page)", role)
	}
	g := PlatformGrant{Email: email, Role: role}
	err = p.DB.QueryRow(ctx, `SELECT id::text, name FROM users WHERE email = $1`, email).Scan(&g.UserID, &g.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, apperr.NotFound("no user %s: they sign up (or are invited to an account) first", email)
	}
	if err != nil {
		return g, err
	}
	err = p.DB.QueryRow(ctx, `
		INSERT INTO grants (user_id, role, account_id, granted_by) VALUES ($1, $2, NULL, $3)
		ON CONFLICT (user_id, role) WHERE account_id IS NULL DO UPDATE SET role = EXCLUDED.role
		RETURNING created_at`, g.UserID, role, nullable(by)).Scan(&g.CreatedAt)
	if err != nil {
		return g, err
	}
	if err := p.notifyAccessChanged(ctx); err != nil {
		return g, err
	}
	return g, p.auditPlatform(ctx, by, "platform.role_granted", g.UserID, map[string]string{"email": email, "role": role})
}

// RevokePlatformRole takes a platform role from a user; the last developer
// keeps theirs, so someone can still grant.
func (p *Platform) RevokePlatformRole(ctx context.Context, who Principal, userID, role string) error {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return err
	}
	if !access.IsPlatformRole(role) {
		return apperr.Invalid("role %q: choose developer or billing-operator", role)
	}
	err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		var developers int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM grants WHERE account_id IS NULL AND role = 'developer' FOR UPDATE) d`).
			Scan(&developers); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM grants WHERE account_id IS NULL AND user_id::text = $1 AND role = $2`, userID, role)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.NotFound("%s holds no %s role", userID, role)
		}
		if role == "developer" && developers <= 1 {
			return apperr.Conflict("the platform needs a developer: grant the role to someone else first")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := p.notifyAccessChanged(ctx); err != nil {
		return err
	}
	return p.auditPlatform(ctx, who.UserID, "platform.role_revoked", userID, map[string]string{"role": role})
}

// auditPlatform records a platform event (no account).
func (p *Platform) auditPlatform(ctx context.Context, by, action, userID string, detail map[string]string) error {
	return p.audit(ctx, Principal{UserID: by}, action, "user", userID, detail)
}
