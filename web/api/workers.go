package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
)

// Shipping worker builds: the Worker Deployments and moving new work to a
// build (developers, console.admin).

func (a *API) listWorkers(c *gin.Context) {
	list, err := a.P.Workers(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"deployments": list}, err)
}

func (a *API) setCurrentBuild(c *gin.Context) {
	deployment, build := c.Param("deployment"), c.Param("build")
	err := a.P.SetCurrentBuild(c.Request.Context(), who(c), deployment, build)
	a.answer(c, http.StatusOK, gin.H{"deployment": deployment, "current": build}, err)
}

func (a *API) rampBuild(c *gin.Context) {
	var in struct {
		Percentage *float32 `json:"percentage"`
	}
	if err := bindJSON(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	if in.Percentage == nil {
		a.fail(c, apperr.Invalid("percentage is required: 0 to 100 (0 pauses the ramp: it gets nothing)"))
		return
	}
	deployment, build := c.Param("deployment"), c.Param("build")
	err := a.P.RampBuild(c.Request.Context(), who(c), deployment, build, *in.Percentage)
	a.answer(c, http.StatusOK, gin.H{"deployment": deployment, "ramping": build, "percentage": *in.Percentage}, err)
}
