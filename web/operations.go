package web

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tenantry/activities"
	"tenantry/internal/apperr"
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
	setup, err := req.toSetup()
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.update(c, workflows.EnableID(v.ID), workflows.SetupUpdate, setup); err != nil {
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
	ctx := c.Request.Context()
	u := userOf(c)
	change, err := s.Checks.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: v.ID, Modules: req.Modules})
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(change.Added) == 0 && len(change.Removed) == 0 {
		s.fail(c, apperr.Invalid("the instance already has exactly these modules"))
		return
	}
	id := workflows.ChangeModulesID(v.ID)
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    workflows.SearchAttributes(u.AccountID, v.Service, v.ID),
	}, workflows.ChangeModules, workflows.ChangeModulesInput{InstanceID: v.ID, AccountID: u.AccountID, ActorID: u.ID, Modules: change.Modules})
	if err != nil {
		s.fail(c, alreadyRunning(err, "a module change for this instance is already in progress"))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": id, "modules": change.Modules,
		"added": change.Added, "removed": change.Removed})
}

func (s *Server) disableInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if v.Status != "ready" {
		s.fail(c, apperr.Conflict("only a ready instance can be disabled (it is %s)", v.Status))
		return
	}
	u := userOf(c)
	grace := s.GracePeriod
	if grace <= 0 {
		grace = workflows.DefaultGracePeriod
	}
	id := workflows.DisableID(v.ID)
	_, err = s.Temporal.ExecuteWorkflow(c.Request.Context(), client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    workflows.SearchAttributes(u.AccountID, v.Service, v.ID),
	}, workflows.DisableService, workflows.DisableInput{InstanceID: v.ID, AccountID: u.AccountID, ActorID: u.ID, GracePeriod: grace})
	if err != nil {
		s.fail(c, alreadyRunning(err, "this instance is already being disabled"))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": id, "grace_period": grace.String(),
		"data_kept_until": s.Clock().Add(grace).UTC()})
}

// reenableInstance brings a disabled instance back within its grace period.
func (s *Server) reenableInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if v.Status != "disabled" {
		s.fail(c, apperr.Conflict("only a disabled instance can be enabled again (it is %s)", v.Status))
		return
	}
	err = s.update(c, workflows.DisableID(v.ID), workflows.ReenableUpdate, workflows.ReenableRequest{ActorID: userOf(c).ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": v.ID, "workflow_id": workflows.DisableID(v.ID), "status": "enabling again"})
}

// update sends a workflow update and waits until it is accepted; a closed
// workflow means the moment for it has passed.
func (s *Server) update(c *gin.Context, workflowID, name string, arg any) error {
	h, err := s.Temporal.UpdateWorkflow(c.Request.Context(), client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return apperr.Conflict("this operation has already finished")
	}
	if err != nil {
		return err
	}
	return h.Get(c.Request.Context(), nil)
}

func alreadyRunning(err error, msg string) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return apperr.Conflict("%s", msg)
	}
	return err
}
