package web

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// The operations below serve both the JSON API and the console: each takes
// who acts and plain inputs, checks them, and starts or signals the
// workflow. Handlers only decode the request and render the answer.

// accountInstances lists an account's live instances, newest first.
func (s *Server) accountInstances(ctx context.Context, accountID string) ([]instanceView, error) {
	rows, err := s.DB.Query(ctx,
		`SELECT `+instanceColumns+` FROM instances WHERE account_id = $1 AND status <> 'deleted' ORDER BY created_at DESC`,
		accountID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (instanceView, error) { return scanInstance(r) })
}

// startEnable checks an enable request, then starts EnableService; it
// returns the new instance's ID once the workflow has reserved the host.
func (s *Server) startEnable(ctx context.Context, u currentUser, req enableRequest) (string, error) {
	if err := required("service", req.Service); err != nil {
		return "", err
	}
	if err := required("host", req.Host); err != nil {
		return "", err
	}
	in := workflows.EnableInput{
		InstanceID: uuid.NewString(), AccountID: u.AccountID, ActorID: u.ID,
		Service: req.Service, Modules: req.Modules, Host: req.Host, SetupTimeout: s.SetupTimeout,
	}
	// Answer bad input before starting anything.
	if _, err := controldb.CheckEnable(ctx, s.DB, s.Catalog, controldb.EnableRequest{
		InstanceID: in.InstanceID, Service: in.Service, Modules: in.Modules, Host: in.Host,
	}); err != nil {
		return "", err
	}
	if req.Setup != nil {
		setup, err := req.Setup.toSetup()
		if err != nil {
			return "", err
		}
		in.Setup = &setup
	}
	if _, err := workflows.StartEnable(ctx, s.Temporal, in); err != nil {
		return "", err
	}
	return in.InstanceID, nil
}

// sendSetup sends the setup page to the instance's provisioning. The
// workflow's validator has the last word; its message reaches the client.
func (s *Server) sendSetup(ctx context.Context, v instanceView, req setupRequest) error {
	setup, err := req.toSetup()
	if err != nil {
		return err
	}
	return s.update(ctx, workflows.EnableID(v.ID), workflows.SetupUpdate, setup)
}

// startModuleChange checks the new module set and starts ChangeModules.
func (s *Server) startModuleChange(ctx context.Context, u currentUser, v instanceView, modules []string) (controldb.ModuleChange, error) {
	change, err := controldb.CheckModuleChange(ctx, s.DB, s.Catalog, v.ID, modules)
	if err != nil {
		return change, err
	}
	if len(change.Added) == 0 && len(change.Removed) == 0 {
		return change, apperr.Invalid("the instance already has exactly these modules")
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.ChangeModulesID(v.ID), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    workflows.SearchAttributes(u.AccountID, v.Service, v.ID),
	}, workflows.ChangeModules, workflows.ChangeModulesInput{InstanceID: v.ID, AccountID: u.AccountID, ActorID: u.ID, Modules: change.Modules})
	return change, alreadyRunning(err, "a module change for this instance is already in progress")
}

// gracePeriod is how long a disabled instance's data is kept.
func (s *Server) gracePeriod() time.Duration {
	if s.GracePeriod > 0 {
		return s.GracePeriod
	}
	return workflows.DefaultGracePeriod
}

// startDisable starts DisableService; it returns the grace period and
// until when the data is kept.
func (s *Server) startDisable(ctx context.Context, u currentUser, v instanceView) (time.Duration, time.Time, error) {
	if v.Status != "ready" {
		return 0, time.Time{}, apperr.Conflict("only a ready instance can be disabled (it is %s)", v.Status)
	}
	if v.Maintenance {
		return 0, time.Time{}, apperr.Conflict("the instance is being upgraded: disable it once that is done")
	}
	grace := s.gracePeriod()
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.DisableID(v.ID), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    workflows.SearchAttributes(u.AccountID, v.Service, v.ID),
	}, workflows.DisableService, workflows.DisableInput{InstanceID: v.ID, AccountID: u.AccountID, ActorID: u.ID, GracePeriod: grace})
	return grace, s.Clock().Add(grace).UTC(), alreadyRunning(err, "this instance is already being disabled")
}

// reenable brings a disabled instance back within its grace period.
func (s *Server) reenable(ctx context.Context, u currentUser, v instanceView) error {
	if v.Status != "disabled" {
		return apperr.Conflict("only a disabled instance can be enabled again (it is %s)", v.Status)
	}
	return s.update(ctx, workflows.DisableID(v.ID), workflows.ReenableUpdate, workflows.ReenableRequest{ActorID: u.ID})
}

// update sends a workflow update and waits until it is accepted; a closed
// workflow means the moment for it has passed.
func (s *Server) update(ctx context.Context, workflowID, name string, arg any) error {
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
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
	return h.Get(ctx, nil)
}

func alreadyRunning(err error, msg string) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return apperr.Conflict("%s", msg)
	}
	return err
}
