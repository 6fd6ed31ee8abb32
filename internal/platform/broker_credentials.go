package platform

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/secret"
)

// Broker credentials: HTTP basic auth plus a source-address allow-list, the
// way the founding notes chose for services inside the data centre. An
// account owner makes and revokes them; a platform signing in with them
// acts for that account, as the owner who made them, scoped to the
// instances' permissions.

// BrokerScope is what a platform signed in with broker credentials may do.
var BrokerScope = access.Set{access.InstancesRead, access.InstancesManage}

// BrokerCredential is a set of broker credentials as the console lists
// them; the password is shown once, when they are made.
type BrokerCredential struct {
	ID          string
	Name        string
	Username    string
	AllowedFrom []string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// NewBrokerCredential is the form that makes broker credentials.
type NewBrokerCredential struct {
	Name string
	// AllowedFrom lists addresses or CIDR prefixes, separated by commas or
	// spaces.
	AllowedFrom string
}

// ParseAllowList reads an allow-list: addresses (a /32 or /128) or CIDR
// prefixes, separated by commas or spaces; at least one.
func ParseAllowList(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		prefix, err := netip.ParsePrefix(f)
		if err != nil {
			addr, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, apperr.Invalid("%q is neither an address nor a CIDR prefix (such as 10.0.0.0/8)", f)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		out = append(out, prefix.Masked().String())
	}
	if len(out) == 0 {
		return nil, apperr.Invalid("list the addresses the platform calls from (e.g. 10.0.0.0/8, 127.0.0.1)")
	}
	return out, nil
}

// BrokerCredentials lists the account's broker credentials, newest first.
func (p *Platform) BrokerCredentials(ctx context.Context, who Principal) ([]BrokerCredential, error) {
	if err := require(who, access.TeamManage); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `SELECT id::text, name, username, allowed_cidrs, created_at, revoked_at
		FROM broker_credentials WHERE account_id = $1 ORDER BY created_at DESC`, who.AccountID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[BrokerCredential])
}

// CreateBrokerCredential makes broker credentials for the principal's
// account (owners: it hands a platform the right to manage instances).
// The password is returned once; only its argon2id hash is stored.
func (p *Platform) CreateBrokerCredential(ctx context.Context, who Principal, in NewBrokerCredential) (string, BrokerCredential, error) {
	if err := require(who, access.TeamManage); err != nil {
		return "", BrokerCredential{}, err
	}
	if err := require(who, access.InstancesManage); err != nil {
		return "", BrokerCredential{}, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return "", BrokerCredential{}, apperr.Invalid("give the credentials a name (up to 100 characters) that says which platform uses them")
	}
	allowed, err := ParseAllowList(in.AllowedFrom)
	if err != nil {
		return "", BrokerCredential{}, err
	}
	raw := make([]byte, 6)
	_, _ = rand.Read(raw)
	c := BrokerCredential{ID: uuid.NewString(), Name: name, Username: "broker-" + hex.EncodeToString(raw), AllowedFrom: allowed,
		CreatedAt: p.Clock().UTC().Truncate(time.Second)}
	password := newSecret("tbk_")
	if _, err := p.DB.Exec(ctx, `INSERT INTO broker_credentials (id, account_id, created_by, name, username, password_hash, allowed_cidrs, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, who.AccountID, who.UserID, name, c.Username, secret.HashPassword(password),
		allowed, c.CreatedAt); err != nil {
		return "", BrokerCredential{}, err
	}
	return password, c, p.audit(ctx, who, "broker_credential.created", "broker_credential", c.ID,
		map[string]string{"name": name, "username": c.Username, "allowed_from": strings.Join(allowed, ",")})
}

// RevokeBrokerCredential revokes the account's broker credentials; they
// are refused from the next request on, on every web process.
func (p *Platform) RevokeBrokerCredential(ctx context.Context, who Principal, id string) error {
	if err := require(who, access.TeamManage); err != nil {
		return err
	}
	if _, err := uuid.Parse(id); err != nil {
		return apperr.NotFound("no broker credentials %s", id)
	}
	tag, err := p.DB.Exec(ctx, `UPDATE broker_credentials SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND account_id = $2`,
		id, who.AccountID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return apperr.NotFound("no broker credentials %s", id)
	}
	return p.audit(ctx, who, "broker_credential.revoked", "broker_credential", id, nil)
}

// ErrBadBrokerLogin answers broker credentials that do not (or no longer)
// work.
var ErrBadBrokerLogin = apperr.Unauthorized("the broker credentials are unknown, revoked or wrong")

// brokerLogins remembers passwords checked recently, so a platform's
// requests do not each pay argon2id; revocation is still read every time.
type brokerLogins struct {
	mu sync.Mutex
	ok map[[32]byte]time.Time
}

const brokerLoginTTL = 5 * time.Minute

func (b *brokerLogins) seen(key [32]byte, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	at, ok := b.ok[key]
	return ok && now.Sub(at) < brokerLoginTTL
}

func (b *brokerLogins) remember(key [32]byte, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ok == nil || len(b.ok) > 1024 {
		b.ok = map[[32]byte]time.Time{}
	}
	b.ok[key] = now
}

// ResolveBrokerCredential answers who a platform signing in with broker
// credentials from addr acts as: the owner who made them, on their
// account, scoped to BrokerScope. Wrong or revoked credentials are
// unauthorized; an address outside the allow-list is forbidden, before any
// password is checked; failed passwords are rate-limited like logins.
func (p *Platform) ResolveBrokerCredential(ctx context.Context, username, password, addr string) (Principal, error) {
	var accountID, userID, hash string
	var allowed []string
	var revoked *time.Time
	err := p.DB.QueryRow(ctx, `SELECT account_id::text, created_by::text, password_hash, allowed_cidrs, revoked_at
		FROM broker_credentials WHERE username = $1`, username).Scan(&accountID, &userID, &hash, &allowed, &revoked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && revoked != nil) {
		return Principal{}, ErrBadBrokerLogin
	}
	if err != nil {
		return Principal{}, err
	}
	// The allow-list first: from anywhere else, no password is even tried.
	from, err := netip.ParseAddr(addr)
	if err != nil {
		return Principal{}, apperr.Forbidden("the request's address %q is not on the broker credentials' allow-list", addr)
	}
	from = from.Unmap()
	if !slices.ContainsFunc(allowed, func(a string) bool {
		prefix, err := netip.ParsePrefix(a)
		return err == nil && prefix.Contains(from)
	}) {
		return Principal{}, apperr.Forbidden("requests with these broker credentials may not come from %s", from)
	}
	key := sha256.Sum256([]byte(username + "\x00" + password + "\x00" + hash))
	now := p.Clock()
	if !p.broker.seen(key, now) {
		// Failures count like console logins, per credentials and address.
		attempt, ok, err := p.logins.begin(ctx, "broker:"+username, addr)
		if err != nil {
			return Principal{}, err
		}
		if !ok {
			return Principal{}, apperr.TooMany("too many failed sign-ins with these broker credentials: wait a few minutes")
		}
		if !secret.VerifyPassword(hash, password) {
			return Principal{}, ErrBadBrokerLogin // the attempt stays counted
		}
		if err := attempt.succeeded(ctx); err != nil {
			return Principal{}, err
		}
		p.broker.remember(key, now)
	}
	who, err := p.PrincipalOf(ctx, userID, accountID)
	if err != nil {
		return Principal{}, err
	}
	if who.AccountID != accountID {
		return Principal{}, apperr.Unauthorized("the owner who made these broker credentials no longer belongs to the account")
	}
	who.Scope = BrokerScope
	return who, nil
}
