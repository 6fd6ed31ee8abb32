package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/workflows"
)

// setupInstance sends the setup page to the instance's provisioning. The
// workflow's validator has the last word; its message reaches the client.
func (s *Server) setupInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req setupRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.sendSetup(c.Request.Context(), v, req); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": workflows.EnableID(v.ID), "status": "setup accepted"})
}

type modulesRequest struct {
	Modules []string `json:"modules"`
}

func (s *Server) changeModules(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req modulesRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	change, err := s.startModuleChange(c.Request.Context(), userOf(c), v, req.Modules)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": workflows.ChangeModulesID(v.ID), "modules": change.Modules,
		"added": change.Added, "removed": change.Removed})
}

func (s *Server) disableInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	grace, until, err := s.startDisable(c.Request.Context(), userOf(c), v)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": workflows.DisableID(v.ID), "grace_period": grace.String(),
		"data_kept_until": until})
}

// reenableInstance brings a disabled instance back within its grace period.
func (s *Server) reenableInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.reenable(c.Request.Context(), userOf(c), v); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": workflows.DisableID(v.ID), "status": "enabling again"})
}
