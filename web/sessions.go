package web

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
)

// sessionUserKey holds the signed-in user's ID in a console session.
const sessionUserKey = "user_id"

// newSessions keeps console sessions in PostgreSQL, so any web process can
// serve any signed-in user.
func (s *Server) newSessions() *scs.SessionManager {
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(s.DB, 30*time.Minute)
	sm.Lifetime = 7 * 24 * time.Hour
	sm.IdleTimeout = 24 * time.Hour
	sm.Cookie.Name = "tenantry_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = s.SecureCookies
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.Log.Error("session store", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
	return sm
}

// signIn starts a session for userID with a fresh token (no fixation).
func (s *Server) signIn(ctx context.Context, userID string) error {
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionUserKey, userID)
	return nil
}

// signOut ends the session and renews its token.
func (s *Server) signOut(ctx context.Context) error {
	if err := s.sessions.Destroy(ctx); err != nil {
		return err
	}
	return s.sessions.RenewToken(ctx)
}

// requireSession admits a console request from a signed-in user; anyone else
// is sent to the login page.
func (s *Server) requireSession(c *gin.Context) {
	ctx := c.Request.Context()
	id := s.sessions.GetString(ctx, sessionUserKey)
	var u currentUser
	err := errNoSession
	if id != "" {
		err = s.DB.QueryRow(ctx, `SELECT u.id, u.account_id, u.email, u.role, a.name FROM users u
			JOIN accounts a ON a.id = u.account_id WHERE u.id = $1`, id).
			Scan(&u.ID, &u.AccountID, &u.Email, &u.Role, &u.AccountName)
	}
	if errors.Is(err, errNoSession) || errors.Is(err, pgx.ErrNoRows) {
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	u.Perms = access.OfRole(u.Role)
	c.Set(userKey, u)
	c.Next()
}

var errNoSession = errors.New("no session")

// assetDir is where htmx was installed.
func (s *Server) assetDir() string {
	if s.AssetDir != "" {
		return s.AssetDir
	}
	dir, _ := os.Getwd()
	for {
		cand := filepath.Join(dir, "node_modules", "htmx.org", "dist")
		if _, err := os.Stat(filepath.Join(cand, "htmx.min.js")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
