package workflows

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// DisableService's contract: one per instance at a time on TaskQueue,
// started by StartDisable (or by InstanceExpiry as a child); Reenable sends
// the ReenableUpdate; its progress query answers a Progress (StatusWaiting
// during the grace period).

// DisableID names an instance's disabling and grace period.
func DisableID(instanceID string) string { return "disable/" + instanceID }

// ReenableUpdate brings the instance back during the grace period.
const ReenableUpdate = "reenable"

// DefaultGracePeriod is how long a disabled instance's data is kept.
const DefaultGracePeriod = 7 * 24 * time.Hour

// DisableInput asks to disable an instance.
type DisableInput struct {
	InstanceID  string
	AccountID   string
	Service     string // for the search attributes
	ActorID     string
	GracePeriod time.Duration // zero means DefaultGracePeriod
}

// ReenableRequest says who brings the instance back.
type ReenableRequest struct {
	ActorID string
}

// DisableOutcome is how the grace period ended.
type DisableOutcome string

const (
	OutcomeReenabled DisableOutcome = "reenabled"
	OutcomeDeleted   DisableOutcome = "deleted"
)

// DisableResult tells how the disabling ended and when.
type DisableResult struct {
	Outcome DisableOutcome
	At      time.Time
}

// DisableService's steps, in order; DisableStepReenable replaces the last
// two when the client enables the instance again.
const (
	DisableStepDisable  = "disable"
	DisableStepGrace    = "grace"
	DisableStepDrop     = "drop_database"
	DisableStepDelete   = "delete"
	DisableStepReenable = "reenable"
)

// StartDisable starts an instance's DisableService; one still running for
// the instance is an apperr.Conflict.
func StartDisable(ctx context.Context, c client.Client, in DisableInput) error {
	_, err := startOnce(ctx, c, DisableID(in.InstanceID), SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"this instance is already being disabled", DisableService, in)
	return err
}

// Reenable brings a disabled instance back during its grace period and
// waits until its DisableService has taken the request. The workflow's
// validator refuses it once deletion has begun; a disabling that has
// closed is an apperr.Conflict.
func Reenable(ctx context.Context, c client.Client, instanceID string, req ReenableRequest) error {
	return updateAndWait(ctx, c, DisableID(instanceID), ReenableUpdate, req)
}

// DisableService takes the instance off its host and stops billing at once,
// keeps its data for the grace period on a durable timer, then drops its
// database and role, unless the client enables it again first.
func DisableService(ctx workflow.Context, in DisableInput) (DisableResult, error) {
	s := &disable{in: in}
	if err := s.init(ctx); err != nil {
		return DisableResult{}, err
	}
	res, err := s.run(ctx)
	if err != nil {
		s.t.fail(ctx, err)
	}
	return res, err
}

type disable struct {
	in       DisableInput
	t        *tracker
	reenable *ReenableRequest
	deleting bool
}

func (s *disable) init(ctx workflow.Context) error {
	var err error
	s.t, err = newTracker(ctx,
		stepDef{DisableStepDisable, "Take the host offline and stop billing"},
		stepDef{DisableStepGrace, "Keep the data during the grace period"},
		stepDef{DisableStepDrop, "Drop the database and its role"},
		stepDef{DisableStepDelete, "Release the host"},
	)
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, ReenableUpdate,
		func(ctx workflow.Context, r ReenableRequest) error { s.reenable = &r; return nil },
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, r ReenableRequest) error {
			if s.deleting {
				return apperr.ForTemporal(apperr.Conflict("the grace period is over; the data is being deleted"))
			}
			if s.reenable != nil {
				return apperr.ForTemporal(apperr.Conflict("the instance is already being enabled again"))
			}
			return nil
		}})
}

func (s *disable) run(ctx workflow.Context) (DisableResult, error) {
	db := withDBSteps(ctx)
	grace := s.in.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}
	now := workflow.Now(ctx).UTC()
	err := s.t.run(ctx, DisableStepDisable, func() error {
		return call(db, acts.DisableInstance, activities.DisableInput{
			InstanceID: s.in.InstanceID, ActorID: s.in.ActorID, At: now, DeleteAfter: now.Add(grace),
		}, nil)
	})
	if err != nil {
		return DisableResult{}, err
	}

	s.t.set(ctx, DisableStepGrace, StepWaiting)
	s.t.p.Status = StatusWaiting
	if _, err := workflow.AwaitWithTimeout(ctx, grace, func() bool { return s.reenable != nil }); err != nil {
		return DisableResult{}, err
	}
	s.t.p.Status = StatusRunning
	s.t.set(ctx, DisableStepGrace, StepDone)

	if s.reenable != nil {
		return s.bringBack(ctx, db)
	}
	s.deleting = true
	ref := activities.InstanceRef{InstanceID: s.in.InstanceID}
	if err := s.t.run(ctx, DisableStepDrop, func() error { return longCall(ctx, acts.DropDatabase, ref, nil) }); err != nil {
		return DisableResult{}, err
	}
	if err := s.t.run(ctx, DisableStepDelete, func() error { return call(db, acts.DeleteInstance, ref, nil) }); err != nil {
		return DisableResult{}, err
	}
	s.t.finish(StatusCompleted)
	return DisableResult{Outcome: OutcomeDeleted, At: workflow.Now(ctx).UTC()}, nil
}

func (s *disable) bringBack(ctx, db workflow.Context) (DisableResult, error) {
	at := workflow.Now(ctx).UTC()
	s.t.set(ctx, DisableStepDrop, StepSkipped)
	s.t.set(ctx, DisableStepDelete, StepSkipped)
	err := s.t.run(ctx, DisableStepReenable, func() error {
		return call(db, acts.ReenableInstance, activities.ReenableInput{InstanceID: s.in.InstanceID, ActorID: s.reenable.ActorID, At: at}, nil)
	})
	s.t.step(DisableStepReenable).Title = "Enable again: route the host, restart billing"
	if err != nil {
		return DisableResult{}, err
	}
	s.t.finish(StatusCompleted)
	return DisableResult{Outcome: OutcomeReenabled, At: at}, nil
}
