package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/platform"
)

// listTokens lists the caller's own API tokens (never their secrets) and
// the permissions a new one may hold.
func (a *API) listTokens(c *gin.Context) {
	list, err := a.P.APITokens(c.Request.Context(), who(c))
	if list == nil {
		list = []platform.APIToken{}
	}
	a.answer(c, http.StatusOK, gin.H{"tokens": list, "permissions": a.P.TokenPermissions(who(c))}, err)
}

// createToken makes an API token within the caller's permissions; the
// answer is the only time its secret is shown.
func (a *API) createToken(c *gin.Context) {
	var req platform.NewAPIToken
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	secret, t, err := a.P.CreateAPIToken(c.Request.Context(), who(c), req)
	a.answer(c, http.StatusCreated, platform.IssuedAPIToken{Token: secret, APIToken: t}, err)
}

// revokeToken revokes one of the caller's own tokens; every web process
// refuses it at once.
func (a *API) revokeToken(c *gin.Context) {
	if err := a.P.RevokeAPIToken(c.Request.Context(), who(c), c.Param("id")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
