package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/secret"
)

// tokenTTL is how long a bearer token from /api/login lives.
const tokenTTL = 30 * 24 * time.Hour

// currentUser is who made the request, resolved from the bearer token.
type currentUser struct {
	ID        string
	AccountID string
	Email     string
	Role      string
	// AccountName is filled for console pages.
	AccountName string
	// Perms is what the user may do on the account.
	Perms access.Set
	// Scope narrows Perms for a request made with an API token; nil for a
	// login session.
	Scope access.Set
}

// can says whether the request may do perm: the user holds it and, with an
// API token, the token is scoped to it.
func (u currentUser) can(perm string) bool {
	return u.Perms.Allows(perm) && (u.Scope == nil || u.Scope.Allows(perm))
}

const userKey = "tenantry.user"

func userOf(c *gin.Context) currentUser { return c.MustGet(userKey).(currentUser) }

// A dummy hash to verify against when the email is unknown, so a login's
// duration does not tell whether an account exists.
var dummyHash = secret.HashPassword("not a real password")

// checkLogin answers who logs in with this email and password from this
// address. Failures are rate-limited per account and per address; every
// refusal says the same thing, so it never tells whether an account exists.
func (s *Server) checkLogin(ctx context.Context, email, password, addr string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	attempt, allowed, err := s.logins.begin(ctx, email, addr)
	if err != nil {
		return "", err
	}
	if !allowed {
		return "", apperr.TooMany("too many failed logins: wait a few minutes, then try again")
	}
	var userID, hash string
	err = s.DB.QueryRow(ctx, `SELECT id, password_hash FROM users WHERE email = $1`, email).Scan(&userID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		hash = dummyHash
	} else if err != nil {
		return "", err
	}
	if !secret.VerifyPassword(hash, password) || userID == "" {
		return "", apperr.Unauthorized("wrong email or password") // the attempt stays counted
	}
	return userID, attempt.succeeded(ctx)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	userID, err := s.checkLogin(c.Request.Context(), req.Email, req.Password, c.ClientIP())
	if err != nil {
		s.fail(c, err)
		return
	}
	token, expires, err := s.newToken(c, userID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"token": token, "expires_at": expires})
}

func (s *Server) newToken(c *gin.Context, userID string) (string, time.Time, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := "tnt_" + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	expires := s.Clock().Add(tokenTTL).UTC().Truncate(time.Second)
	_, err := s.DB.Exec(c.Request.Context(), `INSERT INTO api_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		sum[:], userID, expires)
	return token, expires, err
}

func (s *Server) logout(c *gin.Context) {
	sum := sha256.Sum256([]byte(bearer(c)))
	if _, err := s.DB.Exec(c.Request.Context(), `DELETE FROM api_sessions WHERE token_hash = $1`, sum[:]); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// requireUser admits a request with a valid, unexpired bearer token.
func (s *Server) requireUser(c *gin.Context) {
	token := bearer(c)
	if token == "" {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "log in first: send Authorization: Bearer <token from POST /api/login>"})
		return
	}
	if strings.HasPrefix(token, apiTokenPrefix) {
		u, err := s.tokens.resolve(c.Request.Context(), token)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Set(userKey, u)
		c.Next()
		return
	}
	sum := sha256.Sum256([]byte(token))
	var u currentUser
	err := s.DB.QueryRow(c.Request.Context(), `
		SELECT u.id, u.account_id, u.email, u.role FROM api_sessions t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.expires_at > $2`, sum[:], s.Clock()).Scan(&u.ID, &u.AccountID, &u.Email, &u.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "the token is unknown or expired: log in again"})
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	u.Perms = access.OfRole(u.Role)
	c.Set(userKey, u)
	c.Next()
}

func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
