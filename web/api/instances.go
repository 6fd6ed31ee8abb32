package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/platform"
	"tenantry/workflows"
)

func (a *API) listInstances(c *gin.Context) {
	list, err := a.P.Instances(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"instances": list}, err)
}

func (a *API) getInstance(c *gin.Context) {
	v, err := a.P.InstanceDetail(c.Request.Context(), who(c), c.Param("id"))
	a.answer(c, http.StatusOK, v, err)
}

// enableInstance answers 201 with a real instance once the workflow has
// validated the request and reserved the host, or the reason it refused.
func (a *API) enableInstance(c *gin.Context) {
	var req platform.EnableInput
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	v, err := a.P.Enable(c.Request.Context(), who(c), req)
	if err == nil {
		c.Header("Location", "/api/instances/"+v.ID)
	}
	a.answer(c, http.StatusCreated, v, err)
}

func (a *API) setupInstance(c *gin.Context) {
	var req platform.SetupInput
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	id := c.Param("id")
	err := a.P.Setup(c.Request.Context(), who(c), id, req)
	a.answer(c, http.StatusAccepted, gin.H{"id": id, "workflow_id": workflows.EnableID(id), "status": "setup accepted"}, err)
}

type modulesRequest struct {
	Modules []string `json:"modules"`
}

func (a *API) changeModules(c *gin.Context) {
	var req modulesRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	id := c.Param("id")
	change, err := a.P.ChangeModules(c.Request.Context(), who(c), id, req.Modules)
	a.answer(c, http.StatusAccepted, gin.H{"id": id, "workflow_id": workflows.ChangeModulesID(id), "modules": change.Modules,
		"added": change.Added, "removed": change.Removed}, err)
}

func (a *API) disableInstance(c *gin.Context) {
	id := c.Param("id")
	d, err := a.P.Disable(c.Request.Context(), who(c), id)
	a.answer(c, http.StatusAccepted, gin.H{"id": id, "workflow_id": workflows.DisableID(id), "grace_period": d.GracePeriod.String(),
		"data_kept_until": d.DataKeptUntil}, err)
}

// reenableInstance brings a disabled instance back within its grace period.
func (a *API) reenableInstance(c *gin.Context) {
	id := c.Param("id")
	err := a.P.Reenable(c.Request.Context(), who(c), id)
	a.answer(c, http.StatusAccepted, gin.H{"id": id, "workflow_id": workflows.DisableID(id), "status": "enabling again"}, err)
}

type expiryRequest struct {
	// ExpiresAt is the instance's end (RFC 3339); null removes it. A later
	// end renews the instance.
	ExpiresAt *time.Time `json:"expires_at"`
}

func (a *API) setExpiry(c *gin.Context) {
	var req expiryRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	id := c.Param("id")
	err := a.P.SetExpiry(c.Request.Context(), who(c), id, req.ExpiresAt)
	a.answer(c, http.StatusOK, gin.H{"id": id, "expires_at": req.ExpiresAt, "workflow_id": workflows.ExpiryID(id)}, err)
}

// upgradeRequest names the version a developer moves an instance to.
type upgradeRequest struct {
	Version string `json:"version"`
}

func (a *API) upgradeInstance(c *gin.Context) {
	var req upgradeRequest
	if err := bindJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	id := c.Param("id")
	u, err := a.P.UpgradeInstance(c.Request.Context(), who(c), id, req.Version)
	a.answer(c, http.StatusAccepted, gin.H{"id": id, "workflow_id": u.WorkflowID, "from_version": u.Plan.FromVersion,
		"version": u.Plan.Version, "modules": u.Plan.Modules, "dropped": u.Plan.Dropped}, err)
}
