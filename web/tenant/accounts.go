package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
)

// Accounts are a service's end users and their sessions, in the tenant
// database: a table of users (email, display_name, password_hash, is_admin)
// and a table of sessions keyed by the SHA-256 of the cookie. Because both
// live in PostgreSQL, any router process serves any session.
type Accounts struct {
	Users      string // e.g. "members"
	Sessions   string // e.g. "member_sessions"
	UserColumn string // the sessions' reference to a user, e.g. "member_id"
}

// User is a signed-in end user.
type User struct {
	ID      int64
	Name    string
	IsAdmin bool
}

// SessionCookie names the end users' session cookie; each tenant has its
// own host, so browsers keep tenants' cookies apart.
const SessionCookie = "tenantry_session"

const sessionTTL = 30 * 24 * time.Hour

// Register creates an end user with an argon2id password hash.
func (a Accounts) Register(ctx context.Context, t *Tenant, email, name, password string) (int64, error) {
	email, err := validate.Email(email)
	if err != nil {
		return 0, err
	}
	if name, err = validate.Name("display name", name); err != nil {
		return 0, err
	}
	if err := validate.Password(password); err != nil {
		return 0, err
	}
	var id int64
	err = t.DB.QueryRow(ctx, `INSERT INTO `+a.Users+` (email, display_name, password_hash) VALUES ($1, $2, $3) RETURNING id`,
		email, name, secret.HashPassword(password)).Scan(&id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return 0, apperr.Conflict("%s is already registered", email)
	}
	return id, err
}

// Authenticate checks an email and password; a wrong pair is forbidden
// without saying which half was wrong.
func (a Accounts) Authenticate(ctx context.Context, t *Tenant, email, password string) (int64, error) {
	email, _ = validate.Email(email)
	var id int64
	var hash string
	err := t.DB.QueryRow(ctx, `SELECT id, password_hash FROM `+a.Users+` WHERE email = $1`, email).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		secret.VerifyPassword(dummyHash, password) // same work either way
		return 0, apperr.Forbidden("wrong email or password")
	}
	if err != nil {
		return 0, err
	}
	if !secret.VerifyPassword(hash, password) {
		return 0, apperr.Forbidden("wrong email or password")
	}
	return id, nil
}

var dummyHash = secret.HashPassword("not anybody's password")

// StartSession records a new session for the user and sets its cookie.
func (a Accounts) StartSession(c *gin.Context, userID int64) error {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	// The user's expired sessions go as a new one starts.
	_, err := Of(c).DB.Exec(c.Request.Context(), `WITH gone AS (
			DELETE FROM `+a.Sessions+` WHERE `+a.UserColumn+` = $2 AND expires_at <= now())
		INSERT INTO `+a.Sessions+` (token_hash, `+a.UserColumn+`, expires_at)
		VALUES ($1, $2, now() + $3::interval)`, sum[:], userID, sessionTTL.String())
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
	return nil
}

// Current returns the signed-in user, or nil. Requests without a cookie
// cost no query.
func (a Accounts) Current(c *gin.Context) (*User, error) {
	ck, err := c.Request.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(ck.Value))
	var u User
	err = Of(c).DB.QueryRow(c.Request.Context(), `SELECT u.id, u.display_name, u.is_admin FROM `+a.Sessions+` s
		JOIN `+a.Users+` u ON u.id = s.`+a.UserColumn+` WHERE s.token_hash = $1 AND s.expires_at > now()`, sum[:]).
		Scan(&u.ID, &u.Name, &u.IsAdmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// User is the signed-in user (nil for a visitor), looked up once per
// request; a lookup that fails is recorded on the request and reads as a
// visitor.
func (a Accounts) User(c *gin.Context) *User {
	key := "tenant.user." + a.Users
	if u, ok := c.Get(key); ok {
		return u.(*User)
	}
	u, err := a.Current(c)
	if err != nil {
		_ = c.Error(err)
	}
	c.Set(key, u)
	return u
}

// SignedIn runs h for a signed-in user and sends visitors to the login page.
func (a Accounts) SignedIn(h func(*gin.Context, *User)) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := a.User(c)
		if u == nil {
			c.Redirect(http.StatusSeeOther, "/login")
			return
		}
		h(c, u)
	}
}

// EndSession deletes the session and clears its cookie.
func (a Accounts) EndSession(c *gin.Context) error {
	if ck, err := c.Request.Cookie(SessionCookie); err == nil {
		sum := sha256.Sum256([]byte(ck.Value))
		if _, err := Of(c).DB.Exec(c.Request.Context(), `DELETE FROM `+a.Sessions+` WHERE token_hash = $1`, sum[:]); err != nil {
			return err
		}
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	return nil
}

// Routes adds /login, /register and /logout for these accounts; chrome
// builds the page frame for a request.
func (a Accounts) Routes(r gin.IRoutes, chrome func(c *gin.Context, title string) Chrome, fail func(*gin.Context, error)) {
	form := func(register bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			key := "login"
			if register {
				key = "register"
			}
			Render(c, http.StatusOK, AuthPage(AuthView{Chrome: chrome(c, T(Of(c).Lang, key)), Register: register}))
		}
	}
	submit := func(register bool) gin.HandlerFunc {
		return func(c *gin.Context) {
			t := Of(c)
			email, password := c.PostForm("email"), c.PostForm("password")
			var id int64
			var err error
			key := "login"
			if register {
				key = "register"
				id, err = a.Register(c.Request.Context(), t, email, c.PostForm("name"), password)
			} else {
				id, err = a.Authenticate(c.Request.Context(), t, email, password)
			}
			if err == nil {
				err = a.StartSession(c, id)
			}
			switch {
			case err == nil:
				c.Redirect(http.StatusSeeOther, "/")
			case apperr.KindOf(err) == apperr.KindForbidden:
				Render(c, http.StatusUnauthorized, AuthPage(AuthView{Chrome: chrome(c, T(t.Lang, key)), Email: email, Error: T(t.Lang, "bad_login")}))
			case apperr.KindOf(err) != apperr.KindInternal:
				Render(c, apperr.HTTPStatus(err), AuthPage(AuthView{Chrome: chrome(c, T(t.Lang, key)), Register: register,
					Email: email, Error: apperr.Message(err)}))
			default:
				fail(c, err)
			}
		}
	}
	r.GET("/login", form(false))
	r.POST("/login", submit(false))
	r.GET("/register", form(true))
	r.POST("/register", submit(true))
	r.POST("/logout", func(c *gin.Context) {
		if err := a.EndSession(c); err != nil {
			fail(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
}
