package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

// upgradeRequest names the version an operator moves an instance to.
type upgradeRequest struct {
	Version string `json:"version"`
}

// upgradeInstance starts UpgradeInstance for any account's instance
// (operators only: the route needs console.admin).
func (s *Server) upgradeInstance(c *gin.Context) {
	var req upgradeRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	id, plan, err := s.startUpgrade(c.Request.Context(), userOf(c), c.Param("id"), req.Version)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "workflow_id": id, "from_version": plan.FromVersion,
		"version": plan.Version, "modules": plan.Modules, "dropped": plan.Dropped})
}

// startUpgrade checks the upgrade as the workflow will, refuses a second
// upgrade of the same instance, then starts the workflow.
func (s *Server) startUpgrade(ctx context.Context, u currentUser, instanceID, version string) (string, activities.UpgradePlan, error) {
	var plan activities.UpgradePlan
	if err := required("version", version); err != nil {
		return "", plan, err
	}
	if _, err := uuid.Parse(instanceID); err != nil {
		return "", plan, apperr.NotFound("no instance %s", instanceID)
	}
	var accountID string
	var maintenance bool
	err := s.DB.QueryRow(ctx, `SELECT account_id, maintenance FROM instances WHERE id = $1`, instanceID).Scan(&accountID, &maintenance)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", plan, apperr.NotFound("no instance %s", instanceID)
	}
	if err != nil {
		return "", plan, err
	}
	if plan, err = s.Checks.CheckUpgrade(ctx, activities.UpgradeInput{InstanceID: instanceID, Version: version}); err != nil {
		return "", plan, err
	}
	if plan.Current {
		return "", plan, apperr.Invalid("the instance already runs %s %s", plan.Service, plan.Version)
	}
	// Each target version has its own workflow ID, so an upgrade to another
	// version is found by its flag and by visibility.
	if maintenance {
		return "", plan, apperr.Conflict("the instance is in maintenance: an upgrade is already running")
	}
	running, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1,
		Query: fmt.Sprintf("WorkflowType = 'UpgradeInstance' AND InstanceId = '%s' AND ExecutionStatus = 'Running'", instanceID)})
	if err != nil {
		return "", plan, err
	}
	if len(running.GetExecutions()) > 0 {
		return "", plan, apperr.Conflict("an upgrade of this instance is already running (%s)", running.GetExecutions()[0].GetExecution().GetWorkflowId())
	}
	id, err := workflows.StartUpgrade(ctx, s.Temporal, workflows.UpgradeInput{
		InstanceID: instanceID, AccountID: accountID, Service: plan.Service, ActorID: u.ID, Version: version,
	})
	return id, plan, err
}
