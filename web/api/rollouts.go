package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

// rolloutRequest starts a rollout; durations are Go durations ("30m").
type rolloutRequest struct {
	Service                 string `json:"service"`
	Version                 string `json:"version"`
	BatchSize               int    `json:"batch_size"`
	MaxInFlight             int    `json:"max_in_flight"`
	FailureThreshold        int    `json:"failure_threshold"`
	FailureThresholdPercent int    `json:"failure_threshold_percent"`
	InstanceDeadline        string `json:"instance_deadline"`
	DrainDeadline           string `json:"drain_deadline"`
	AutoApprove             bool   `json:"auto_approve"`
}

// RolloutRequest turns a rollout's fields into the platform's request; the
// console's form sends the same fields.
func RolloutRequest(service, version string, batch, inFlight, threshold, percent int, instanceDeadline, drainDeadline string,
	auto bool) (platform.RolloutRequest, error) {
	o := workflows.RolloutOptions{BatchSize: batch, MaxInFlight: inFlight, FailureThreshold: threshold,
		FailureThresholdPercent: percent, AutoApprove: auto}
	for _, d := range []struct {
		field, value string
		to           *time.Duration
	}{{"instance_deadline", instanceDeadline, &o.InstanceDeadline}, {"drain_deadline", drainDeadline, &o.DrainDeadline}} {
		if d.value == "" {
			continue
		}
		v, err := time.ParseDuration(d.value)
		if err != nil {
			return platform.RolloutRequest{}, apperr.Invalid("%s must be a duration such as 30m or 90s", d.field)
		}
		*d.to = v
	}
	return platform.RolloutRequest{Service: service, Version: version, Options: o}, nil
}

func (a *API) startRollout(c *gin.Context) {
	var req rolloutRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	in, err := RolloutRequest(req.Service, req.Version, req.BatchSize, req.MaxInFlight, req.FailureThreshold,
		req.FailureThresholdPercent, req.InstanceDeadline, req.DrainDeadline, req.AutoApprove)
	if err != nil {
		a.fail(c, err)
		return
	}
	started, err := a.P.StartRollout(c.Request.Context(), who(c), in)
	a.answer(c, http.StatusAccepted, started, err)
}

func (a *API) listRollouts(c *gin.Context) {
	list, err := a.P.Rollouts(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"rollouts": list}, err)
}

func (a *API) getRollout(c *gin.Context) {
	v, err := a.P.Rollout(c.Request.Context(), who(c), c.Param("id"))
	a.answer(c, http.StatusOK, v, err)
}

// controlRolloutRequest is the optional body of a control; only drain
// reads it.
type controlRolloutRequest struct {
	Decision string `json:"decision"`
}

// controlRollout sends the control the route names.
func (a *API) controlRollout(control string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req controlRolloutRequest
		if c.Request.ContentLength != 0 {
			if err := bindJSON(c, &req); err != nil {
				a.fail(c, err)
				return
			}
		}
		err := a.P.ControlRollout(c.Request.Context(), who(c), c.Param("id"), control, req.Decision)
		a.answer(c, http.StatusOK, gin.H{"id": c.Param("id"), "control": control}, err)
	}
}
