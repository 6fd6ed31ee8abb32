// Package auth establishes who makes a request: console sessions (kept in
// PostgreSQL, so any web process serves any signed-in user), login tokens
// and API tokens (the latter cached and dropped at once when a token is
// revoked or a grant changes), and the current principal that every
// handler passes to the platform layer. The rules of who may do what stay
// in the platform layer; this package only says who asks.
package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/platform"
)

// Resolver is what auth needs of the platform layer.
type Resolver interface {
	PrincipalOf(ctx context.Context, userID, accountID string) (platform.Principal, error)
	ResolveLoginToken(ctx context.Context, token string) (platform.Principal, error)
	ResolveAPIToken(ctx context.Context, token string) (platform.Principal, *time.Time, error)
	ListenAccessChanges(ctx context.Context, changed func(), listening func(bool)) error
}

// Auth resolves principals for the API and the console.
type Auth struct {
	resolver Resolver
	sessions *scs.SessionManager
	tokens   *tokenCache
	log      *slog.Logger
	stop     context.CancelFunc
}

// Options configure Auth.
type Options struct {
	// DB keeps the console's sessions.
	DB *pgxpool.Pool
	// SecureCookies marks the session cookie Secure (behind TLS).
	SecureCookies bool
	Clock         func() time.Time
	Log           *slog.Logger
}

// New starts Auth and the listener that keeps its token cache honest;
// Close stops them.
func New(r Resolver, o Options) *Auth {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a := &Auth{resolver: r, log: o.Log, tokens: newTokenCache(r, o.Clock, o.Log)}
	a.sessions = newSessions(o.DB, o.SecureCookies, o.Log)
	ctx, stop := context.WithCancel(context.Background())
	a.stop = stop
	go a.tokens.follow(ctx)
	return a
}

// Close stops the revocation listener and the session cleanup.
func (a *Auth) Close() {
	a.stop()
	if st, ok := a.sessions.Store.(*pgxstore.PostgresStore); ok {
		st.StopCleanup()
	}
}

// Sessions wraps a handler so console sessions are loaded and saved
// around it.
func (a *Auth) Sessions(h http.Handler) http.Handler { return a.sessions.LoadAndSave(h) }

const principalKey = "tenantry.principal"

// Of is the request's principal, set by RequireToken or RequireSession.
func Of(c *gin.Context) platform.Principal { return c.MustGet(principalKey).(platform.Principal) }

// Signed says whether the request has a principal (anonymous pages have
// none).
func Signed(c *gin.Context) (platform.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return platform.Principal{}, false
	}
	return v.(platform.Principal), true
}

// Bearer is the request's bearer token, or empty.
func Bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// RequireToken admits an API request with a valid login or API token;
// fail answers anyone else in the API's medium.
func (a *Auth) RequireToken(fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		token := Bearer(c)
		if token == "" {
			fail(c, errNoToken)
			return
		}
		var who platform.Principal
		var err error
		if strings.HasPrefix(token, platform.APITokenPrefix) {
			who, err = a.tokens.resolve(c.Request.Context(), token)
		} else {
			who, err = a.resolver.ResolveLoginToken(c.Request.Context(), token)
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(principalKey, who)
		c.Next()
	}
}
