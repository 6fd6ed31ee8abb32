package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type startJobRequest struct {
	Job string `json:"job"`
}

// startJob queues a run of one of the service's jobs on the instance.
func (a *API) startJob(c *gin.Context) {
	var req startJobRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	j, err := a.P.StartJob(c.Request.Context(), who(c), c.Param("id"), req.Job)
	a.answer(c, http.StatusAccepted, j, err)
}

// listJobs answers the jobs the instance offers and its latest runs.
func (a *API) listJobs(c *gin.Context) {
	jobs, err := a.P.InstanceJobs(c.Request.Context(), who(c), c.Param("id"))
	a.answer(c, http.StatusOK, jobs, err)
}
