package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/platform"
)

// The fleet of database servers (operators).

func (a *API) serverRoutes(me *gin.RouterGroup) {
	ops := me.Group("/ops/servers")
	ops.GET("", a.listServers)
	ops.POST("", a.registerServer)
	ops.GET("/:name", a.getServer)
	ops.PUT("/:name/state", a.setServerState)
	ops.POST("/:name/check", a.checkServer)
	ops.POST("/:name/drain", a.drainServer)
	ops.POST("/:name/moves", a.moveToServer)
}

func (a *API) listServers(c *gin.Context) {
	list, err := a.P.Servers(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"servers": list}, err)
}

// registerServer checks and registers a server; the admin URL is never
// answered back.
func (a *API) registerServer(c *gin.Context) {
	var in platform.NewServer
	if err := bindJSON(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	s, check, err := a.P.RegisterServer(c.Request.Context(), who(c), in)
	a.answer(c, http.StatusCreated, gin.H{"server": s, "check": check}, err)
}

func (a *API) getServer(c *gin.Context) {
	d, err := a.P.Server(c.Request.Context(), who(c), c.Param("name"))
	a.answer(c, http.StatusOK, d, err)
}

func (a *API) setServerState(c *gin.Context) {
	var in struct {
		State string `json:"state"`
	}
	if err := bindJSON(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	s, err := a.P.SetServerState(c.Request.Context(), who(c), c.Param("name"), in.State)
	a.answer(c, http.StatusOK, s, err)
}

func (a *API) checkServer(c *gin.Context) {
	check, err := a.P.CheckServer(c.Request.Context(), who(c), c.Param("name"))
	a.answer(c, http.StatusOK, check, err)
}

func (a *API) drainServer(c *gin.Context) {
	id, err := a.P.DrainServer(c.Request.Context(), who(c), c.Param("name"))
	a.answer(c, http.StatusAccepted, gin.H{"workflow_id": id}, err)
}

// moveToServer moves an instance's database to this server.
func (a *API) moveToServer(c *gin.Context) {
	var in struct {
		InstanceID string `json:"instance_id"`
	}
	if err := bindJSON(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	m, err := a.P.MoveInstance(c.Request.Context(), who(c), in.InstanceID, c.Param("name"))
	a.answer(c, http.StatusAccepted, m, err)
}
