package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/web/console"
)

// grantableRoles are the roles an account's owner may give; developer is a
// platform role, granted by operators only.
var grantableRoles = []string{"owner", "member", "billing"}

func (s *Server) teamView(c *gin.Context) (console.Team, error) {
	u := userOf(c)
	rows, err := s.DB.Query(c.Request.Context(),
		`SELECT id, email, name, role FROM users WHERE account_id = $1 ORDER BY created_at, email`, u.AccountID)
	if err != nil {
		return console.Team{}, err
	}
	members, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (console.Member, error) {
		var m console.Member
		err := r.Scan(&m.ID, &m.Email, &m.Name, &m.Role)
		m.You = m.ID == u.ID
		return m, err
	})
	return console.Team{Members: members, Roles: grantableRoles, CanManage: u.can(access.TeamManage)}, err
}

func (s *Server) showTeam(c *gin.Context, status int, errMsg, notice string) {
	t, err := s.teamView(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	p := s.page(c, "Team")
	p.Error = errMsg
	if notice != "" {
		p.Notice = notice
	}
	s.render(c, status, console.TeamPage(p, t))
}

func (s *Server) teamPage(c *gin.Context) { s.showTeam(c, http.StatusOK, "", "") }

// inviteSubmit adds a member with a one-time password, shown once on this
// answer and never stored in clear.
func (s *Server) inviteSubmit(c *gin.Context) {
	password, email, err := s.invite(c)
	if err != nil {
		s.showTeam(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	s.showTeam(c, http.StatusCreated, "", "Invited "+email+". Give them this password to log in (it is shown only now): "+password)
}

func (s *Server) invite(c *gin.Context) (string, string, error) {
	u := userOf(c)
	email, err := validate.Email(c.PostForm("email"))
	if err != nil {
		return "", "", err
	}
	name, err := validate.Name("name", c.PostForm("name"))
	if err != nil {
		return "", "", err
	}
	role := c.PostForm("role")
	if !slices.Contains(grantableRoles, role) {
		return "", "", apperr.Invalid("role %q: choose owner, member or billing", role)
	}
	raw := make([]byte, 15)
	_, _ = rand.Read(raw)
	password := base64.RawURLEncoding.EncodeToString(raw)
	id := uuid.NewString()
	ctx := c.Request.Context()
	_, err = s.DB.Exec(ctx, `INSERT INTO users (id, account_id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, u.AccountID, email, name, secret.HashPassword(password), role)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return "", "", apperr.Conflict("%s already has an account", email)
	}
	if err != nil {
		return "", "", err
	}
	return password, email, s.audit(c, "member.invited", "user", id, map[string]string{"email": email, "role": role})
}

// roleSubmit gives a member of the account another role. Someone of
// another account is not found; the last owner stays an owner.
func (s *Server) roleSubmit(c *gin.Context) {
	if err := s.setRole(c); err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			s.consoleFail(c, err)
			return
		}
		s.showTeam(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	s.redirect(c, "/team", "Role changed.")
}

func (s *Server) setRole(c *gin.Context) error {
	u := userOf(c)
	id, role := c.Param("user"), c.PostForm("role")
	if _, err := uuid.Parse(id); err != nil {
		return apperr.NotFound("no member %s", id)
	}
	if !slices.Contains(grantableRoles, role) {
		return apperr.Invalid("role %q: choose owner, member or billing", role)
	}
	ctx := c.Request.Context()
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Lock the account's users so two demotions cannot leave no owner.
	var owners int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM users WHERE account_id = $1 AND role = 'owner' FOR UPDATE) o`,
		u.AccountID).Scan(&owners); err != nil {
		return err
	}
	var old string
	err = tx.QueryRow(ctx, `SELECT role FROM users WHERE id = $1 AND account_id = $2`, id, u.AccountID).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("no member %s", id)
	}
	if err != nil {
		return err
	}
	if old == "owner" && role != "owner" && owners <= 1 {
		return apperr.Conflict("the account needs an owner: make someone else owner first")
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET role = $1 WHERE id = $2`, role, id); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if err := s.notifyAccessChanged(ctx); err != nil {
		return err
	}
	return s.audit(c, "member.role_changed", "user", id, map[string]string{"from": old, "to": role})
}

// audit records what the current user did on their account.
func (s *Server) audit(c *gin.Context, action, objectType, objectID string, detail map[string]string) error {
	u := userOf(c)
	if detail == nil {
		detail = map[string]string{}
	}
	_, err := s.DB.Exec(c.Request.Context(), `INSERT INTO audit_log (event_key, account_id, actor_id, action, object_type, object_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, "console/"+uuid.NewString(), u.AccountID, u.ID, action, objectType, objectID, detail)
	return err
}

func (s *Server) timelinePage(c *gin.Context) {
	rows, err := s.DB.Query(c.Request.Context(), `
		SELECT a.at, coalesce(u.email, CASE WHEN a.actor_id IS NULL THEN 'Tenantry' ELSE 'a former member' END),
		       a.action, a.object_type, a.object_id, a.detail::text
		FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
		WHERE a.account_id = $1 ORDER BY a.at DESC, a.id DESC LIMIT 200`, userOf(c).AccountID)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (console.Event, error) {
		var e console.Event
		var at time.Time
		err := r.Scan(&at, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Detail)
		e.At = at.UTC().Format("2006-01-02 15:04:05 UTC")
		return e, err
	})
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	s.render(c, http.StatusOK, console.TimelinePage(s.page(c, "Timeline"), events))
}
