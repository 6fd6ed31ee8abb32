package platform

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
)

// LoginTokenTTL is how long a bearer token from a login lives.
const LoginTokenTTL = 30 * 24 * time.Hour

// APITokenPrefix starts every API token; login tokens start with
// LoginTokenPrefix.
const (
	APITokenPrefix   = "tpat_"
	LoginTokenPrefix = "tnt_"
)

// AccessChannel is the PostgreSQL NOTIFY channel on which a web process
// says that a token was revoked or a grant changed: every process drops
// its cached resolutions at once.
const AccessChannel = "tenantry_access"

// ErrBadToken answers an API token that does not (or no longer) work.
var ErrBadToken = apperr.Unauthorized("the API token is unknown, revoked or expired")

// ErrBadLogin answers a login token that does not (or no longer) work.
var ErrBadLogin = apperr.Unauthorized("the token is unknown or expired: log in again")

// LoginToken is a bearer token for the JSON API, shown once.
type LoginToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	AccountID string    `json:"account_id"`
}

// Login checks a user's password and issues a login token for one of
// their accounts (the first one when accountID is empty).
func (p *Platform) Login(ctx context.Context, email, password, accountID, addr string) (LoginToken, error) {
	userID, err := p.CheckLogin(ctx, email, password, addr)
	if err != nil {
		return LoginToken{}, err
	}
	if accountID != "" {
		if _, err := uuid.Parse(accountID); err != nil {
			return LoginToken{}, apperr.Invalid("account_id %q is not a UUID", accountID)
		}
	}
	who, err := p.PrincipalOf(ctx, userID, accountID)
	if err != nil {
		return LoginToken{}, err
	}
	if who.AccountID == "" && accountID != "" {
		return LoginToken{}, apperr.NotFound("you do not belong to account %s", accountID)
	}
	if who.AccountID == "" {
		return LoginToken{}, apperr.Forbidden("you belong to no account yet: ask an account's owner to invite you")
	}
	token := newSecret(LoginTokenPrefix)
	sum := sha256.Sum256([]byte(token))
	expires := p.Clock().Add(LoginTokenTTL).UTC().Truncate(time.Second)
	_, err = p.DB.Exec(ctx, `INSERT INTO api_sessions (token_hash, user_id, account_id, expires_at) VALUES ($1, $2, $3, $4)`,
		sum[:], userID, who.AccountID, expires)
	return LoginToken{Token: token, ExpiresAt: expires, AccountID: who.AccountID}, err
}

// Logout ends a login token; an unknown one is already ended.
func (p *Platform) Logout(ctx context.Context, token string) error {
	sum := sha256.Sum256([]byte(token))
	_, err := p.DB.Exec(ctx, `DELETE FROM api_sessions WHERE token_hash = $1`, sum[:])
	return err
}

// ResolveLoginToken answers who holds a login token.
func (p *Platform) ResolveLoginToken(ctx context.Context, token string) (Principal, error) {
	sum := sha256.Sum256([]byte(token))
	var userID, accountID string
	err := p.DB.QueryRow(ctx, `SELECT user_id::text, account_id::text FROM api_sessions WHERE token_hash = $1 AND expires_at > $2`,
		sum[:], p.Clock()).Scan(&userID, &accountID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrBadLogin
	}
	if err != nil {
		return Principal{}, err
	}
	return p.PrincipalOf(ctx, userID, accountID)
}

// ResolveAPIToken answers who holds an API token and until when it is
// valid (nil: no end). A cache may keep the answer until the end or until
// AccessChannel says something changed.
func (p *Platform) ResolveAPIToken(ctx context.Context, token string) (Principal, *time.Time, error) {
	sum := sha256.Sum256([]byte(token))
	var userID, accountID string
	var scope []string
	var expires *time.Time
	err := p.DB.QueryRow(ctx, `
		SELECT user_id::text, account_id::text, permissions, expires_at FROM api_tokens
		WHERE token_hash = $1 AND revoked_at IS NULL`, sum[:]).Scan(&userID, &accountID, &scope, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, nil, ErrBadToken
	}
	if err != nil {
		return Principal{}, nil, err
	}
	who, err := p.PrincipalOf(ctx, userID, accountID)
	if err != nil {
		if apperr.KindOf(err) == apperr.KindUnauthorized {
			return who, nil, ErrBadToken
		}
		return who, nil, err
	}
	who.Scope = access.Set(scope)
	return who, expires, nil
}

// APIToken is one of a user's API tokens (never its secret).
type APIToken struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	AccountID   string     `json:"account_id"`
	Permissions []string   `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	// State is active, expired or revoked.
	State string `json:"state"`
}

// APITokens lists the principal's own tokens, the newest first.
func (p *Platform) APITokens(ctx context.Context, who Principal) ([]APIToken, error) {
	rows, err := p.DB.Query(ctx, `SELECT id::text, name, account_id::text, permissions, expires_at, revoked_at, created_at
		FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC`, who.UserID)
	if err != nil {
		return nil, err
	}
	now := p.Clock()
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIToken, error) {
		var t APIToken
		err := r.Scan(&t.ID, &t.Name, &t.AccountID, &t.Permissions, &t.ExpiresAt, &t.RevokedAt, &t.CreatedAt)
		t.State = "active"
		if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
			t.State = "expired"
		}
		if t.RevokedAt != nil {
			t.State = "revoked"
		}
		return t, err
	})
}

// TokenPermissions lists what a new token of the principal may be scoped
// to: the permissions it holds (within its own token's scope).
func (p *Platform) TokenPermissions(who Principal) []string {
	var all []string
	for perm := range access.Platform {
		all = append(all, perm)
	}
	for _, name := range p.Catalog.Names() {
		svc, _ := p.Catalog.Service(name)
		for _, perm := range svc.Permissions {
			all = append(all, perm.Name)
		}
	}
	sort.Strings(all)
	return slices.DeleteFunc(all, func(perm string) bool { return !who.Can(perm) })
}

// NewAPIToken is the token form (the console's, and the API's body).
type NewAPIToken struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
	// ExpiresInDays is empty for a token without an end.
	ExpiresInDays int `json:"expires_in_days,omitempty"`
}

// IssuedAPIToken is a new API token with its secret, the only time the
// secret is shown.
type IssuedAPIToken struct {
	Token string `json:"token"`
	APIToken
}

// CreateAPIToken makes an API token for the principal's account, scoped
// to some of the permissions the principal holds. The answer is the only
// time the token is shown. A user's own tokens need no permission.
func (p *Platform) CreateAPIToken(ctx context.Context, who Principal, in NewAPIToken) (string, APIToken, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return "", APIToken{}, apperr.Invalid("give the token a name (up to 100 characters) that says what uses it")
	}
	scope := access.Set(in.Permissions)
	if len(scope) == 0 {
		return "", APIToken{}, apperr.Invalid("choose at least one permission for the token")
	}
	for _, perm := range scope {
		if err := access.CheckPattern(perm); err != nil {
			return "", APIToken{}, apperr.Invalid("%s", err.Error())
		}
	}
	// A request made with a token makes tokens within that token's scope.
	if !who.Perms.Covers(scope) || (who.Scope != nil && !who.Scope.Covers(scope)) {
		return "", APIToken{}, apperr.Forbidden("a token can only hold permissions you hold yourself")
	}
	if who.AccountID == "" {
		return "", APIToken{}, apperr.Forbidden("you belong to no account yet: a token acts on one of your accounts")
	}
	t := APIToken{ID: uuid.NewString(), Name: name, AccountID: who.AccountID, Permissions: scope, State: "active",
		CreatedAt: p.Clock().UTC().Truncate(time.Second)}
	if in.ExpiresInDays != 0 {
		if in.ExpiresInDays < 1 || in.ExpiresInDays > 3650 {
			return "", APIToken{}, apperr.Invalid("expiry: a number of days from 1 to 3650, or empty for none")
		}
		end := p.Clock().Add(time.Duration(in.ExpiresInDays) * 24 * time.Hour).UTC().Truncate(time.Second)
		t.ExpiresAt = &end
	}
	token := newSecret(APITokenPrefix)
	sum := sha256.Sum256([]byte(token))
	if _, err := p.DB.Exec(ctx, `INSERT INTO api_tokens (id, user_id, account_id, name, token_hash, permissions, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, who.UserID, who.AccountID, name, sum[:], []string(scope), t.ExpiresAt); err != nil {
		return "", APIToken{}, err
	}
	return token, t, p.audit(ctx, who, "token.created", "api_token", t.ID,
		map[string]string{"name": name, "permissions": strings.Join(scope, ",")})
}

// RevokeAPIToken revokes one of the principal's own tokens; anyone else's
// is not found. Every web process stops accepting it at once.
func (p *Platform) RevokeAPIToken(ctx context.Context, who Principal, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return apperr.NotFound("no token %s", id)
	}
	tag, err := p.DB.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2`, id, who.UserID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return apperr.NotFound("no token %s", id)
	}
	if err := p.notifyAccessChanged(ctx); err != nil {
		return err
	}
	return p.audit(ctx, who, "token.revoked", "api_token", id, nil)
}

// notifyAccessChanged tells every web process to forget what it cached.
func (p *Platform) notifyAccessChanged(ctx context.Context) error {
	_, err := p.DB.Exec(ctx, `SELECT pg_notify($1, '')`, AccessChannel)
	return err
}

// ListenAccessChanges calls changed whenever a token is revoked or a grant
// changes, and once each time listening (re)starts, since what changed
// while not listening is unknown. It returns when the connection is lost
// or ctx ends; listening reports whether it is listening now.
func (p *Platform) ListenAccessChanges(ctx context.Context, changed func(), listening func(bool)) error {
	conn, err := p.DB.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+AccessChannel); err != nil {
		return err
	}
	changed()
	listening(true)
	defer listening(false)
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			// The connection may be mid-wait: do not hand it back to the pool.
			_ = conn.Conn().Close(context.Background())
			return err
		}
		changed()
	}
}

func newSecret(prefix string) string {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return prefix + base64.RawURLEncoding.EncodeToString(raw)
}
