package auth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
)

// A console session holds the signed-in user and the account they act on.
const (
	sessionUserKey    = "user_id"
	sessionAccountKey = "account_id"
	noticeKey         = "notice"
)

var errNoToken = apperr.Unauthorized("log in first: send Authorization: Bearer <token from POST /api/login>")

// newSessions keeps console sessions in PostgreSQL, so any web process can
// serve any signed-in user.
func newSessions(db *pgxpool.Pool, secure bool, log *slog.Logger) *scs.SessionManager {
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(db, 30*time.Minute)
	sm.Lifetime = 7 * 24 * time.Hour
	sm.IdleTimeout = 24 * time.Hour
	sm.Cookie.Name = "tenantry_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = secure
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		status := apperr.HTTPStatus(err)
		if status == http.StatusServiceUnavailable {
			log.Warn("session store unavailable", "err", err)
		} else {
			log.Error("session store", "err", err)
		}
		WriteError(w, r, status, apperr.Message(err))
	}
	return sm
}

// SignIn starts a session for a user with a fresh token (no fixation),
// acting on their first account.
func (a *Auth) SignIn(ctx context.Context, userID string) error {
	if err := a.sessions.RenewToken(ctx); err != nil {
		return err
	}
	a.sessions.Put(ctx, sessionUserKey, userID)
	a.sessions.Remove(ctx, sessionAccountKey)
	return nil
}

// SwitchAccount makes the session act on another account of its user
// (the platform layer checked they belong to it).
func (a *Auth) SwitchAccount(ctx context.Context, accountID string) {
	a.sessions.Put(ctx, sessionAccountKey, accountID)
}

// RenewSession gives the session a fresh token (after a password change).
func (a *Auth) RenewSession(ctx context.Context) error { return a.sessions.RenewToken(ctx) }

// SignOut ends the session and renews its token.
func (a *Auth) SignOut(ctx context.Context) error {
	if err := a.sessions.Destroy(ctx); err != nil {
		return err
	}
	return a.sessions.RenewToken(ctx)
}

// SignedIn says whether the request carries a console session.
func (a *Auth) SignedIn(c *gin.Context) bool {
	return a.sessions.GetString(c.Request.Context(), sessionUserKey) != ""
}

// Notice leaves a message for the next page the session sees.
func (a *Auth) Notice(ctx context.Context, notice string) { a.sessions.Put(ctx, noticeKey, notice) }

// PopNotice takes the message the previous request left.
func (a *Auth) PopNotice(ctx context.Context) string { return a.sessions.PopString(ctx, noticeKey) }

// RequireSession admits a console request from a signed-in user; anyone
// else is sent to the login page. fail renders other errors in the
// console's medium.
func (a *Auth) RequireSession(fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		userID := a.sessions.GetString(ctx, sessionUserKey)
		if userID == "" {
			c.Redirect(http.StatusSeeOther, "/login")
			c.Abort()
			return
		}
		accountID := a.sessions.GetString(ctx, sessionAccountKey)
		who, err := a.resolver.PrincipalOf(ctx, userID, accountID)
		if err == nil && who.AccountID == "" && accountID != "" {
			// No longer a member of the account switched to: back to the
			// user's first account.
			a.sessions.Remove(ctx, sessionAccountKey)
			who, err = a.resolver.PrincipalOf(ctx, userID, "")
		}
		if apperr.KindOf(err) == apperr.KindUnauthorized {
			c.Redirect(http.StatusSeeOther, "/login")
			c.Abort()
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(principalKey, who)
		c.Next()
	}
}
