package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

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
		stepDef{"disable", "Take the host offline and stop billing"},
		stepDef{"grace", "Keep the data during the grace period"},
		stepDef{"drop_database", "Drop the database and its role"},
		stepDef{"delete", "Release the host"},
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
	err := s.t.run(ctx, "disable", func() error {
		return call(db, acts.DisableInstance, activities.DisableInput{
			InstanceID: s.in.InstanceID, ActorID: s.in.ActorID, At: now, DeleteAfter: now.Add(grace),
		}, nil)
	})
	if err != nil {
		return DisableResult{}, err
	}

	s.t.set(ctx, "grace", StepWaiting)
	s.t.p.Status = StatusWaiting
	if _, err := workflow.AwaitWithTimeout(ctx, grace, func() bool { return s.reenable != nil }); err != nil {
		return DisableResult{}, err
	}
	s.t.p.Status = StatusRunning
	s.t.set(ctx, "grace", StepDone)

	if s.reenable != nil {
		return s.bringBack(ctx, db)
	}
	s.deleting = true
	ref := activities.InstanceRef{InstanceID: s.in.InstanceID}
	if err := s.t.run(ctx, "drop_database", func() error { return call(db, acts.DropDatabase, ref, nil) }); err != nil {
		return DisableResult{}, err
	}
	if err := s.t.run(ctx, "delete", func() error { return call(db, acts.DeleteInstance, ref, nil) }); err != nil {
		return DisableResult{}, err
	}
	s.t.finish(StatusCompleted)
	return DisableResult{Outcome: OutcomeDeleted, At: workflow.Now(ctx).UTC()}, nil
}

func (s *disable) bringBack(ctx, db workflow.Context) (DisableResult, error) {
	at := workflow.Now(ctx).UTC()
	s.t.set(ctx, "drop_database", StepSkipped)
	s.t.set(ctx, "delete", StepSkipped)
	err := s.t.run(ctx, "reenable", func() error {
		return call(db, acts.ReenableInstance, activities.ReenableInput{InstanceID: s.in.InstanceID, ActorID: s.reenable.ActorID, At: at}, nil)
	})
	s.t.step("reenable").Title = "Enable again: route the host, restart billing"
	if err != nil {
		return DisableResult{}, err
	}
	s.t.finish(StatusCompleted)
	return DisableResult{Outcome: OutcomeReenabled, At: at}, nil
}
