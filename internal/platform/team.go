package platform

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
)

// Member is one user of an account with their role there.
type Member struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

// Team lists the principal's account's members, the earliest first.
func (p *Platform) Team(ctx context.Context, who Principal) ([]Member, error) {
	if err := require(who, access.TeamRead); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT u.id::text, u.email, u.name, g.role FROM grants g JOIN users u ON u.id = g.user_id
		WHERE g.account_id = $1 ORDER BY g.created_at, u.email`, who.AccountID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Member])
}

// Invite is the invitation form.
type Invite struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// Invited says what an invitation did: a new user gets a one-time
// password, shown once and never stored in clear; someone who already has
// a login is added with it and switches to the account in the console.
type Invited struct {
	UserID   string `json:"user_id"`
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
	Existing bool   `json:"existing"`
}

// InviteMember adds a member to the principal's account with an account
// role.
func (p *Platform) InviteMember(ctx context.Context, who Principal, in Invite) (Invited, error) {
	if err := require(who, access.TeamManage); err != nil {
		return Invited{}, err
	}
	email, err := validate.Email(in.Email)
	if err != nil {
		return Invited{}, err
	}
	name, err := validate.Name("name", in.Name)
	if err != nil {
		return Invited{}, err
	}
	if !access.IsAccountRole(in.Role) {
		return Invited{}, apperr.Invalid("role %q: choose owner, member or billing", in.Role)
	}
	out := Invited{Email: email}
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id::text FROM users WHERE email = $1 FOR UPDATE`, email).Scan(&out.UserID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			raw := make([]byte, 15)
			_, _ = rand.Read(raw)
			out.Password, out.UserID = base64.RawURLEncoding.EncodeToString(raw), uuid.NewString()
			if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`,
				out.UserID, email, name, secret.HashPassword(out.Password)); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			out.Existing = true
		}
		tag, err := tx.Exec(ctx, `INSERT INTO grants (user_id, role, account_id, granted_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, out.UserID, in.Role, who.AccountID, who.UserID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Conflict("%s is already a member of this account", email)
		}
		return nil
	})
	if err != nil {
		return Invited{}, err
	}
	return out, p.audit(ctx, who, "member.invited", "user", out.UserID, map[string]string{"email": email, "role": in.Role})
}

// SetMemberRole gives a member of the principal's account another account
// role. Someone of another account is not found; the last owner stays an
// owner.
func (p *Platform) SetMemberRole(ctx context.Context, who Principal, userID, role string) error {
	if err := require(who, access.TeamManage); err != nil {
		return err
	}
	if !access.IsAccountRole(role) {
		return apperr.Invalid("role %q: choose owner, member or billing", role)
	}
	old, err := p.changeMember(ctx, who, userID, func(tx pgx.Tx, old string, owners int) error {
		if old == "owner" && role != "owner" && owners <= 1 {
			return errLastOwner
		}
		_, err := tx.Exec(ctx, `UPDATE grants SET role = $1, granted_by = $2 WHERE user_id = $3 AND account_id = $4`,
			role, who.UserID, userID, who.AccountID)
		return err
	})
	if err != nil {
		return err
	}
	return p.audit(ctx, who, "member.role_changed", "user", userID, map[string]string{"from": old, "to": role})
}

// RemoveMember takes a member off the principal's account (an owner may
// remove themselves while another owner remains): their grant there ends, so none of their sessions and
// tokens acts on it any more, and the web processes drop what they cached.
// The user stays, with whatever other accounts they belong to. Someone of
// another account is not found; the last owner stays.
func (p *Platform) RemoveMember(ctx context.Context, who Principal, userID string) error {
	if err := require(who, access.TeamManage); err != nil {
		return err
	}
	old, err := p.changeMember(ctx, who, userID, func(tx pgx.Tx, old string, owners int) error {
		if old == "owner" && owners <= 1 {
			return errLastOwner
		}
		_, err := tx.Exec(ctx, `DELETE FROM grants WHERE user_id = $1 AND account_id = $2`, userID, who.AccountID)
		return err
	})
	if err != nil {
		return err
	}
	return p.audit(ctx, who, "member.removed", "user", userID, map[string]string{"role": old})
}

// errLastOwner refuses a change that would leave an account without owner.
var errLastOwner = apperr.Conflict("the account needs an owner: make someone else owner first")

// changeMember runs change on a member of the principal's account in one
// transaction, with the member's role and the account's owner count
// (the owners locked, so two changes at once cannot leave none), then tells
// the web processes that access changed. It returns the member's old role.
func (p *Platform) changeMember(ctx context.Context, who Principal, userID string,
	change func(tx pgx.Tx, old string, owners int) error) (string, error) {
	if _, err := uuid.Parse(userID); err != nil {
		return "", apperr.NotFound("no member %s", userID)
	}
	var old string
	err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		var owners int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM grants WHERE account_id = $1 AND role = 'owner' FOR UPDATE) o`,
			who.AccountID).Scan(&owners); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT role FROM grants WHERE user_id = $1 AND account_id = $2`, userID, who.AccountID).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no member %s", userID)
		}
		if err != nil {
			return err
		}
		return change(tx, old, owners)
	})
	if err != nil {
		return "", err
	}
	return old, p.notifyAccessChanged(ctx)
}

// Event is one line of an account's timeline.
type Event struct {
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Detail     string    `json:"detail"`
}

// Timeline is the principal's account's latest events, the newest first.
func (p *Platform) Timeline(ctx context.Context, who Principal) ([]Event, error) {
	if err := require(who, access.AuditRead); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT a.at, coalesce(u.email, CASE WHEN a.actor_id IS NULL THEN 'Tenantry' ELSE 'a former member' END),
		       a.action, a.object_type, a.object_id, a.detail::text
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
		WHERE a.account_id = $1 ORDER BY a.at DESC, a.id DESC LIMIT 200`, who.AccountID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
}

// audit records what the principal did, on the account it acts on.
func (p *Platform) audit(ctx context.Context, who Principal, action, objectType, objectID string, detail map[string]string) error {
	if detail == nil {
		detail = map[string]string{}
	}
	_, err := p.DB.Exec(ctx, `INSERT INTO audit_log (event_key, account_id, actor_id, action, object_type, object_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, "console/"+uuid.NewString(), nullable(who.AccountID), nullable(who.UserID),
		action, objectType, objectID, detail)
	return err
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
