package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/platform"
)

// listTeam lists the members of the account the caller acts on.
func (a *API) listTeam(c *gin.Context) {
	list, err := a.P.Team(c.Request.Context(), who(c))
	if list == nil {
		list = []platform.Member{}
	}
	a.answer(c, http.StatusOK, gin.H{"members": list}, err)
}

// inviteMember adds someone to the account; a new user's one-time password
// is in this answer only.
func (a *API) inviteMember(c *gin.Context) {
	var req platform.Invite
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	in, err := a.P.InviteMember(c.Request.Context(), who(c), req)
	a.answer(c, http.StatusCreated, in, err)
}

// setMemberRole gives a member another role on the account.
func (a *API) setMemberRole(c *gin.Context) {
	var req struct {
		Role string `json:"role"`
	}
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if err := a.P.SetMemberRole(c.Request.Context(), who(c), c.Param("user"), req.Role); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// removeMember takes a member off the account; their sessions and tokens
// stop acting on it at once.
func (a *API) removeMember(c *gin.Context) {
	if err := a.P.RemoveMember(c.Request.Context(), who(c), c.Param("user")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
