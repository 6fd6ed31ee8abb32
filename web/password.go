package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/web/console"
)

func (s *Server) passwordPage(c *gin.Context) {
	s.render(c, http.StatusOK, console.PasswordPage(s.page(c, "Change your password")))
}

// passwordSubmit changes the user's password after checking the current
// one (rate-limited like a login), renews the session token and ends the
// user's API login tokens.
func (s *Server) passwordSubmit(c *gin.Context) {
	if err := s.changePassword(c); err != nil {
		p := s.page(c, "Change your password")
		p.Error = apperr.Message(err)
		s.render(c, apperr.HTTPStatus(err), console.PasswordPage(p))
		return
	}
	s.redirect(c, "/dashboard", "Your password is changed.")
}

func (s *Server) changePassword(c *gin.Context) error {
	u := userOf(c)
	ctx := c.Request.Context()
	if _, err := s.checkLogin(ctx, u.Email, c.PostForm("current"), c.ClientIP()); err != nil {
		if apperr.KindOf(err) == apperr.KindUnauthorized {
			return apperr.Invalid("the current password is wrong")
		}
		return err
	}
	next := c.PostForm("new")
	if err := validate.Password(next); err != nil {
		return err
	}
	if next != c.PostForm("repeat") {
		return apperr.Invalid("the two new passwords differ")
	}
	if _, err := s.DB.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, secret.HashPassword(next), u.ID); err != nil {
		return err
	}
	if _, err := s.DB.Exec(ctx, `DELETE FROM api_sessions WHERE user_id = $1`, u.ID); err != nil {
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	return s.audit(c, "user.password_changed", "user", u.ID, nil)
}
