package web

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/activities"
	"tenantry/internal/apperr"
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
	if _, err := s.Checks.CheckEnable(ctx, activities.ReserveInstanceInput{
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
	return workflows.SendSetup(ctx, s.Temporal, v.ID, setup)
}

// startModuleChange checks the new module set and starts ChangeModules.
func (s *Server) startModuleChange(ctx context.Context, u currentUser, v instanceView, modules []string) (activities.ModuleChange, error) {
	change, err := s.Checks.CheckModuleChange(ctx, activities.ModuleChangeInput{InstanceID: v.ID, Modules: modules})
	if err != nil {
		return change, err
	}
	if len(change.Added) == 0 && len(change.Removed) == 0 {
		return change, apperr.Invalid("the instance already has exactly these modules")
	}
	return change, workflows.StartChangeModules(ctx, s.Temporal, workflows.ChangeModulesInput{
		InstanceID: v.ID, AccountID: u.AccountID, Service: v.Service, ActorID: u.ID, Modules: change.Modules})
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
	err := workflows.StartDisable(ctx, s.Temporal, workflows.DisableInput{
		InstanceID: v.ID, AccountID: u.AccountID, Service: v.Service, ActorID: u.ID, GracePeriod: grace})
	return grace, s.Clock().Add(grace).UTC(), err
}

// reenable brings a disabled instance back within its grace period.
func (s *Server) reenable(ctx context.Context, u currentUser, v instanceView) error {
	if v.Status != "disabled" {
		return apperr.Conflict("only a disabled instance can be enabled again (it is %s)", v.Status)
	}
	return workflows.Reenable(ctx, s.Temporal, v.ID, workflows.ReenableRequest{ActorID: u.ID})
}
