package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// RolloutRequest starts the rollout of a service to a version.
type RolloutRequest struct {
	Service string
	Version string
	Options workflows.RolloutOptions
}

// RolloutStarted is a rollout that has started.
type RolloutStarted struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
}

// StartRollout starts moving every instance of a service on an older
// version to req.Version (developers only). One rollout of a service runs
// at a time: another one still running is a conflict; one whose workflow
// closed without recording its end is recorded as stopped.
func (p *Platform) StartRollout(ctx context.Context, who Principal, req RolloutRequest) (RolloutStarted, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return RolloutStarted{}, err
	}
	if err := required("service", req.Service); err != nil {
		return RolloutStarted{}, err
	}
	if err := required("version", req.Version); err != nil {
		return RolloutStarted{}, err
	}
	svc, err := p.Catalog.Service(req.Service)
	if err != nil {
		return RolloutStarted{}, err
	}
	if _, err := svc.Version(req.Version); err != nil {
		return RolloutStarted{}, err
	}
	if err := req.Options.Check(); err != nil {
		return RolloutStarted{}, err
	}
	if running, ok, err := controldb.RunningRollout(ctx, p.DB, req.Service); err != nil {
		return RolloutStarted{}, err
	} else if ok {
		open, err := p.workflowRunning(ctx, running.WorkflowID)
		if err != nil {
			return RolloutStarted{}, err
		}
		if open {
			return RolloutStarted{}, apperr.Conflict("a rollout of %s is already running (%s, to %s): wait for it or abort it",
				req.Service, running.WorkflowID, running.Version)
		}
		if err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
			return controldb.EndRollout(ctx, tx, running.ID, "stopped")
		}); err != nil {
			return RolloutStarted{}, err
		}
	}
	in := workflows.RolloutInput{RolloutID: uuid.NewString(), Service: req.Service, Version: req.Version,
		ActorID: who.UserID, StartedBy: who.Email, Options: req.Options}
	wid := workflows.RolloutWorkflowID(req.Service, req.Version)
	// Recorded first, so a second start is refused at once and the
	// rollout's page exists as soon as it has started.
	if err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		return controldb.NewRollout(ctx, tx, in.RolloutID, wid, in.Service, in.Version, in.ActorID, in.Options)
	}); err != nil {
		return RolloutStarted{}, err
	}
	if _, err := workflows.StartRollout(ctx, p.Temporal, in); err != nil {
		if _, derr := p.DB.Exec(ctx, `DELETE FROM rollouts WHERE id = $1`, in.RolloutID); derr != nil {
			p.Log.Warn("forget a rollout that did not start", "rollout", in.RolloutID, "err", derr)
		}
		return RolloutStarted{}, err
	}
	return RolloutStarted{ID: in.RolloutID, WorkflowID: wid}, nil
}

// workflowRunning says whether the latest run of a workflow is open.
func (p *Platform) workflowRunning(ctx context.Context, workflowID string) (bool, error) {
	d, err := p.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// Rollouts lists the rollouts, running and past, newest first (developers
// only).
func (p *Platform) Rollouts(ctx context.Context, who Principal) ([]controldb.RolloutRow, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	return controldb.Rollouts(ctx, p.DB, 100)
}

// RolloutView is one rollout with its live state: the workflow's progress,
// every live process and whether it can serve the target, the service's
// jobs, the failed instances with their reasons, and the command line of
// each control.
type RolloutView struct {
	controldb.RolloutRow
	// Progress is the workflow's answer; nil (and ProgressError why)
	// when it does not answer.
	Progress      *workflows.RolloutProgress  `json:"progress,omitempty"`
	ProgressError string                      `json:"progress_error,omitempty"`
	Readiness     controldb.Readiness         `json:"readiness"`
	Jobs          RolloutJobsNow              `json:"jobs"`
	Failed        []controldb.RolloutInstance `json:"failed"`
	// Commands are the `temporal workflow update` command lines of the
	// controls, by name.
	Commands map[string]string `json:"commands"`
}

// RolloutJobsNow is where the service's jobs stand now.
type RolloutJobsNow struct {
	Held     bool   `json:"held"`
	HeldBy   string `json:"held_by,omitempty"`
	InFlight int    `json:"in_flight"`
}

// Rollout is one rollout with its live state (developers only).
func (p *Platform) Rollout(ctx context.Context, who Principal, id string) (RolloutView, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return RolloutView{}, err
	}
	row, err := p.rolloutRow(ctx, id)
	if err != nil {
		return RolloutView{}, err
	}
	v := RolloutView{RolloutRow: row, Commands: map[string]string{}}
	if pr, err := workflows.QueryRollout(ctx, p.Temporal, row.WorkflowID); err != nil {
		v.ProgressError = apperr.Message(err)
	} else if pr.RolloutID == row.ID {
		v.Progress = &pr
	}
	if v.Readiness, err = controldb.RolloutReadiness(ctx, p.DB, row.Service, row.Version); err != nil {
		return v, err
	}
	if v.Jobs.HeldBy, v.Jobs.Held, err = controldb.JobHold(ctx, p.DB, row.Service); err != nil {
		return v, err
	}
	if v.Jobs.InFlight, err = controldb.JobsInFlight(ctx, p.DB, row.Service); err != nil {
		return v, err
	}
	if v.Failed, err = controldb.RolloutInstances(ctx, p.DB, row.ID, "failed", 200); err != nil {
		return v, err
	}
	for _, c := range workflows.RolloutControls {
		v.Commands[c] = RolloutCommand(row.WorkflowID, c, who.Email)
	}
	return v, nil
}

// RolloutCommand is the command line that sends a rollout's control, as
// the console and the API send it.
func RolloutCommand(workflowID, control, by string) string {
	in := workflows.RolloutControl{By: by}
	if control == workflows.RolloutDrain {
		in.Decision = workflows.DrainWait
	}
	b, _ := json.Marshal(in)
	return fmt.Sprintf("go tool temporal workflow update execute --workflow-id %s --name %s --input '%s'", workflowID, control, b)
}

func (p *Platform) rolloutRow(ctx context.Context, id string) (controldb.RolloutRow, error) {
	if _, err := uuid.Parse(id); err != nil {
		return controldb.RolloutRow{}, apperr.NotFound("rollout %s does not exist", id)
	}
	row, ok, err := controldb.Rollout(ctx, p.DB, id)
	if err == nil && !ok {
		err = apperr.NotFound("rollout %s does not exist", id)
	}
	return row, err
}

// ControlRollout sends a control (one of workflows.RolloutControls) to a
// running rollout (developers only); decision is the drain's, "wait" or
// "proceed". The workflow's validator has the last word: its refusal (not
// ready yet, not paused, ...) comes back as a conflict with the reason.
func (p *Platform) ControlRollout(ctx context.Context, who Principal, id, control, decision string) error {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return err
	}
	if !slices.Contains(workflows.RolloutControls, control) {
		return apperr.Invalid("unknown control %q (one of %v)", control, workflows.RolloutControls)
	}
	row, err := p.rolloutRow(ctx, id)
	if err != nil {
		return err
	}
	if row.EndedAt != nil {
		return apperr.Conflict("the rollout has ended (%s)", row.Outcome)
	}
	return workflows.ControlRollout(ctx, p.Temporal, row.WorkflowID, control, workflows.RolloutControl{By: who.Email, Decision: decision})
}
