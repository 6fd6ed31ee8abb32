package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/web/console"
)

// apiTokenPrefix starts every API token; login tokens start with "tnt_".
const apiTokenPrefix = "tpat_"

// accessChannel is the PostgreSQL NOTIFY channel on which a web process
// says that a token was revoked or a role changed: every process drops its
// cached resolutions at once.
const accessChannel = "tenantry_access"

// tokenTTLBackstop bounds how long a cached resolution is used even if a
// notification was lost.
const tokenTTLBackstop = 30 * time.Second

// tokenCache resolves API tokens to their user and scope, caching the
// answer while this process listens for revocations.
type tokenCache struct {
	db  *pgxpool.Pool
	now func() time.Time
	log interface{ Warn(string, ...any) }

	mu        sync.Mutex
	entries   map[[32]byte]tokenEntry
	gen       uint64 // bumped by every purge, so a load that raced one is not kept
	listening bool
}

type tokenEntry struct {
	user    currentUser
	expires *time.Time
	fetched time.Time
}

func newTokenCache(db *pgxpool.Pool, now func() time.Time, log interface{ Warn(string, ...any) }) *tokenCache {
	return &tokenCache{db: db, now: now, log: log, entries: map[[32]byte]tokenEntry{}}
}

var errBadToken = apperr.Unauthorized("the API token is unknown, revoked or expired")

func (tc *tokenCache) resolve(ctx context.Context, token string) (currentUser, error) {
	sum := sha256.Sum256([]byte(token))
	now := tc.now()
	tc.mu.Lock()
	e, ok := tc.entries[sum]
	fresh := ok && tc.listening && now.Sub(e.fetched) < tokenTTLBackstop
	gen := tc.gen
	tc.mu.Unlock()
	if !fresh {
		var scope []string
		err := tc.db.QueryRow(ctx, `
			SELECT u.id, u.account_id, u.email, u.role, t.permissions, t.expires_at
			FROM api_tokens t JOIN users u ON u.id = t.user_id
			WHERE t.token_hash = $1 AND t.revoked_at IS NULL`, sum[:]).
			Scan(&e.user.ID, &e.user.AccountID, &e.user.Email, &e.user.Role, &scope, &e.expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return currentUser{}, errBadToken
		}
		if err != nil {
			return currentUser{}, err
		}
		e.user.Perms, e.user.Scope, e.fetched = access.OfRole(e.user.Role), access.Set(scope), now
		tc.mu.Lock()
		if tc.gen == gen {
			tc.entries[sum] = e
		}
		tc.mu.Unlock()
	}
	if e.expires != nil && !now.Before(*e.expires) {
		return currentUser{}, errBadToken
	}
	return e.user, nil
}

func (tc *tokenCache) purge() {
	tc.mu.Lock()
	clear(tc.entries)
	tc.gen++
	tc.mu.Unlock()
}

// listen follows the access channel until ctx ends. While it is not
// listening the cache is bypassed.
func (tc *tokenCache) listen(ctx context.Context) {
	for ctx.Err() == nil {
		tc.listenOnce(ctx)
		tc.mu.Lock()
		tc.listening = false
		tc.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (tc *tokenCache) listenOnce(ctx context.Context) {
	conn, err := tc.db.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+accessChannel); err != nil {
		tc.log.Warn("listen for token revocations", "err", err)
		return
	}
	tc.purge() // what changed while not listening is unknown
	tc.mu.Lock()
	tc.listening = true
	tc.mu.Unlock()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if ctx.Err() == nil {
				tc.log.Warn("token revocations: connection lost", "err", err)
			}
			// The connection may be mid-wait: do not hand it back to the pool.
			_ = conn.Conn().Close(context.Background())
			return
		}
		tc.purge()
	}
}

// notifyAccessChanged tells every web process to forget what it cached.
func (s *Server) notifyAccessChanged(ctx context.Context) error {
	_, err := s.DB.Exec(ctx, `SELECT pg_notify($1, '')`, accessChannel)
	return err
}

// tokenPermissions lists what a token may be scoped to: what the user holds.
func (s *Server) tokenPermissions(u currentUser) []string {
	var all []string
	for p := range access.Platform {
		all = append(all, p)
	}
	for _, name := range s.Catalog.Names() {
		svc, _ := s.Catalog.Service(name)
		for _, p := range svc.Permissions {
			all = append(all, p.Name)
		}
	}
	sort.Strings(all)
	return slices.DeleteFunc(all, func(p string) bool { return !u.Perms.Allows(p) })
}

func (s *Server) tokensView(c *gin.Context) (console.Tokens, error) {
	u := userOf(c)
	rows, err := s.DB.Query(c.Request.Context(), `SELECT id, name, permissions, expires_at, revoked_at, created_at
		FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC`, u.ID)
	if err != nil {
		return console.Tokens{}, err
	}
	now := s.Clock()
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (console.Token, error) {
		var t console.Token
		var perms []string
		var expires, revoked *time.Time
		var created time.Time
		err := r.Scan(&t.ID, &t.Name, &perms, &expires, &revoked, &created)
		t.Permissions, t.Created, t.Expires, t.State = strings.Join(perms, ", "), created.UTC().Format(time.DateTime), "never", "active"
		if expires != nil {
			t.Expires = expires.UTC().Format(time.DateTime)
			if !now.Before(*expires) {
				t.State = "expired"
			}
		}
		if revoked != nil {
			t.State = "revoked"
		}
		return t, err
	})
	return console.Tokens{List: list, Permissions: s.tokenPermissions(u)}, err
}

func (s *Server) showTokens(c *gin.Context, status int, errMsg, created string) {
	v, err := s.tokensView(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	v.Created = created
	p := s.page(c, "API tokens")
	p.Error = errMsg
	s.render(c, status, console.TokensPage(p, v))
}

func (s *Server) tokensPage(c *gin.Context) { s.showTokens(c, http.StatusOK, "", "") }

// createToken makes an API token scoped to some of the user's permissions.
// The answer is the only time the token is shown.
func (s *Server) tokenSubmit(c *gin.Context) {
	token, err := s.createToken(c)
	if err != nil {
		s.showTokens(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	s.showTokens(c, http.StatusCreated, "", token)
}

func (s *Server) createToken(c *gin.Context) (string, error) {
	u := userOf(c)
	name := strings.TrimSpace(c.PostForm("name"))
	if name == "" || len(name) > 100 {
		return "", apperr.Invalid("give the token a name (up to 100 characters) that says what uses it")
	}
	scope := access.Set(c.PostFormArray("permissions"))
	if len(scope) == 0 {
		return "", apperr.Invalid("choose at least one permission for the token")
	}
	for _, p := range scope {
		if err := access.CheckPattern(p); err != nil {
			return "", apperr.Invalid("%s", err.Error())
		}
	}
	if !u.Perms.Covers(scope) {
		return "", apperr.Forbidden("a token can only hold permissions you hold yourself")
	}
	var expires *time.Time
	if d := strings.TrimSpace(c.PostForm("expires_days")); d != "" {
		days, err := strconv.Atoi(d)
		if err != nil || days < 1 || days > 3650 {
			return "", apperr.Invalid("expiry: a number of days from 1 to 3650, or empty for none")
		}
		t := s.Clock().Add(time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Second)
		expires = &t
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := apiTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	id := uuid.NewString()
	if _, err := s.DB.Exec(c.Request.Context(), `INSERT INTO api_tokens (id, user_id, name, token_hash, permissions, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, u.ID, name, sum[:], []string(scope), expires); err != nil {
		return "", err
	}
	return token, s.audit(c, "token.created", "api_token", id, map[string]string{"name": name, "permissions": strings.Join(scope, ",")})
}

// revokeSubmit revokes one of the user's own tokens; anyone else's is not
// found. Every web process stops accepting it at once.
func (s *Server) revokeSubmit(c *gin.Context) {
	u := userOf(c)
	id := c.Param("token")
	if _, err := uuid.Parse(id); err != nil {
		s.consoleFail(c, apperr.NotFound("no token %s", id))
		return
	}
	ctx := c.Request.Context()
	tag, err := s.DB.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2`, id, u.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = apperr.NotFound("no token %s", id)
	}
	if err == nil {
		err = s.notifyAccessChanged(ctx)
	}
	if err == nil {
		err = s.audit(c, "token.revoked", "api_token", id, nil)
	}
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	s.redirect(c, "/tokens", "Token revoked: it is refused from now on.")
}
