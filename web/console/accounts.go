package console

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

func (k *Console) loginPage(c *gin.Context) {
	k.render(c, http.StatusOK, LoginPage(k.page(c, "Log in"), LoginForm{}))
}

func (k *Console) loginSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	email := c.PostForm("email")
	userID, err := k.P.CheckLogin(ctx, email, c.PostForm("password"), c.ClientIP())
	if err == nil {
		err = k.Auth.SignIn(ctx, userID)
	}
	if err != nil {
		p := k.page(c, "Log in")
		p.Error = apperr.Message(err)
		k.render(c, apperr.HTTPStatus(err), LoginPage(p, LoginForm{Email: email}))
		return
	}
	k.redirect(c, "/dashboard", "")
}

func (k *Console) signupPage(c *gin.Context) {
	k.render(c, http.StatusOK, SignupPage(k.page(c, "Create your account"), SignupForm{}))
}

func (k *Console) signupSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	req := platform.SignupInput{Email: c.PostForm("email"), Name: c.PostForm("name"),
		AccountName: c.PostForm("account_name"), Password: c.PostForm("password")}
	res, err := k.P.Signup(ctx, req)
	if err == nil {
		err = k.Auth.SignIn(ctx, res.UserID)
	}
	if err != nil {
		p := k.page(c, "Create your account")
		p.Error = apperr.Message(err)
		k.render(c, apperr.HTTPStatus(err), SignupPage(p, SignupForm{Email: req.Email, Name: req.Name, AccountName: req.AccountName}))
		return
	}
	k.redirect(c, "/dashboard", "Welcome to Tenantry: your account is ready. Enable a service to begin.")
}

func (k *Console) logoutSubmit(c *gin.Context) {
	if err := k.Auth.SignOut(c.Request.Context()); err != nil {
		k.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

func (k *Console) passwordPage(c *gin.Context) {
	k.render(c, http.StatusOK, PasswordPage(k.page(c, "Change your password")))
}

// passwordSubmit changes the user's password, renews the session token and
// ends the user's API login tokens.
func (k *Console) passwordSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	err := k.P.ChangePassword(ctx, who(c), platform.PasswordChange{Current: c.PostForm("current"), New: c.PostForm("new"),
		Repeat: c.PostForm("repeat"), Addr: c.ClientIP()})
	if err == nil {
		err = k.Auth.RenewSession(ctx)
	}
	if err != nil {
		p := k.page(c, "Change your password")
		p.Error = apperr.Message(err)
		k.render(c, apperr.HTTPStatus(err), PasswordPage(p))
		return
	}
	k.redirect(c, "/dashboard", "Your password is changed.")
}

// switchSubmit makes the session act on another of the user's accounts.
func (k *Console) switchSubmit(c *gin.Context) {
	next, err := k.P.SwitchAccount(c.Request.Context(), who(c), c.PostForm("account_id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	k.Auth.SwitchAccount(c.Request.Context(), next.AccountID)
	k.redirect(c, "/dashboard", "You now act on "+next.AccountName+" as "+next.Role+".")
}
