package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/platform"
	"tenantry/web/auth"
)

func (a *API) signup(c *gin.Context) {
	var req platform.SignupInput
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	res, err := a.P.Signup(c.Request.Context(), req)
	a.answer(c, http.StatusCreated, res, err)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// AccountID picks which of the user's accounts the token acts on;
	// empty is the first.
	AccountID string `json:"account_id"`
}

func (a *API) login(c *gin.Context) {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	token, err := a.P.Login(c.Request.Context(), req.Email, req.Password, req.AccountID, c.ClientIP())
	a.answer(c, http.StatusOK, token, err)
}

func (a *API) logout(c *gin.Context) {
	if err := a.P.Logout(c.Request.Context(), auth.Bearer(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) catalog(c *gin.Context) {
	list, err := a.P.CatalogServices(c.Request.Context())
	a.answer(c, http.StatusOK, gin.H{"services": list}, err)
}

// catalogPrices lists every scheduled price change (scheduled, applied or
// cancelled) for the developers, like their catalog page.
func (a *API) catalogPrices(c *gin.Context) {
	list, err := a.P.PriceSchedule(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"prices": list}, err)
}
