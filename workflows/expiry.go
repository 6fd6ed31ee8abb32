package workflows

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// InstanceExpiry's contract: one watch per instance on TaskQueue, started
// (or woken) by WatchExpiry and woken by ExpiryChanged; its progress query
// answers an ExpiryProgress, whose Status is StatusWaiting while it sleeps
// until its next wake. It has no steps: each wake re-reads the end.

// ExpiryID names the watch over an instance's end.
func ExpiryID(instanceID string) string { return "expiry/" + instanceID }

// ExpiryChangedSignal wakes the watch when the end moves (a renewal, an
// earlier end, no end).
const ExpiryChangedSignal = "expiry-changed"

// ExpiryInput watches one instance's end.
type ExpiryInput struct {
	InstanceID  string
	AccountID   string        // for the search attributes
	Service     string        // for the search attributes
	Warning     time.Duration // zero: activities.ExpiryWarning
	GracePeriod time.Duration // for the DisableService it starts
}

// ExpiryProgress is what the progress query of the watch returns.
type ExpiryProgress struct {
	Status    Status     `json:"status"` // waiting for its next wake, running between
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Warned    bool       `json:"warned"`
	NextWake  time.Time  `json:"next_wake"`
}

// ExpiryResult says how the watch ended.
type ExpiryResult struct {
	Outcome string // ExpiryDisabled, ExpiryNoEnd or ExpiryNotLive
}

// How a watch ends.
const (
	ExpiryDisabled = "disabled" // the end came: DisableService was started
	ExpiryNoEnd    = "no end"   // the end was removed
	ExpiryNotLive  = "not live" // the instance is no longer ready or provisioning
)

// WatchExpiry starts the watch over in.InstanceID's end, or wakes the
// running one to re-read it (signal-with-start): call it after giving an
// instance an end or moving it.
func WatchExpiry(ctx context.Context, c client.Client, in ExpiryInput) error {
	_, err := c.SignalWithStartWorkflow(ctx, ExpiryID(in.InstanceID), ExpiryChangedSignal, nil,
		client.StartWorkflowOptions{TaskQueue: TaskQueue,
			TypedSearchAttributes: SearchAttributes(in.AccountID, in.Service, in.InstanceID)},
		InstanceExpiry, in)
	return err
}

// ExpiryChanged wakes a running watch over the instance's end, so it
// re-reads the end (and stops when there is none); no watch running is
// fine.
func ExpiryChanged(ctx context.Context, c client.Client, instanceID string) error {
	err := c.SignalWorkflow(ctx, ExpiryID(instanceID), "", ExpiryChangedSignal, nil)
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) {
		return nil
	}
	return err
}

// An end that comes while the instance is being upgraded waits for the
// upgrade: the watch looks again every expiryUpgradeRecheck (change ID
// expiryWaitsForSwap guards it for watches that started before).
const (
	expiryWaitsForSwap   = "expiry-waits-for-upgrade"
	expiryUpgradeRecheck = 30 * time.Second
)

// InstanceExpiry warns before an instance's end (in the timeline and the
// API) and at the end disables it through DisableService unless it was
// renewed. The end is read from the control database each time the watch
// wakes, so a renewal needs only the signal (or not even that: the watch
// re-reads before it disables).
func InstanceExpiry(ctx workflow.Context, in ExpiryInput) (ExpiryResult, error) {
	warning := in.Warning
	if warning <= 0 {
		warning = activities.ExpiryWarning
	}
	changed := workflow.GetSignalChannel(ctx, ExpiryChangedSignal)
	p := ExpiryProgress{Status: StatusRunning}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (ExpiryProgress, error) { return p, nil }); err != nil {
		return ExpiryResult{}, err
	}
	res, err := watchExpiry(ctx, in, warning, changed, &p)
	p.Status = StatusCompleted
	if err != nil {
		p.Status = StatusFailed
	}
	return res, err
}

// watchExpiry is the watch's loop; p is what its progress query answers.
func watchExpiry(ctx workflow.Context, in ExpiryInput, warning time.Duration, changed workflow.ReceiveChannel, p *ExpiryProgress) (ExpiryResult, error) {
	for {
		var e activities.Expiry
		if err := call(withDBSteps(ctx), acts.InstanceExpiry, activities.InstanceRef{InstanceID: in.InstanceID}, &e); err != nil {
			return ExpiryResult{}, err
		}
		if e.Status != "ready" && e.Status != "provisioning" {
			return ExpiryResult{Outcome: ExpiryNotLive}, nil
		}
		if e.ExpiresAt == nil {
			return ExpiryResult{Outcome: ExpiryNoEnd}, nil
		}
		now := workflow.Now(ctx)
		end := *e.ExpiresAt
		if !now.Before(end) && e.Maintenance &&
			workflow.GetVersion(ctx, expiryWaitsForSwap, workflow.DefaultVersion, 1) == 1 {
			// Being upgraded: disabling it now could leave its database
			// ahead of the version it runs; look again shortly.
			*p = ExpiryProgress{Status: StatusWaiting, ExpiresAt: &end, Warned: e.Warned, NextWake: now.Add(expiryUpgradeRecheck)}
			if err := workflow.Sleep(ctx, expiryUpgradeRecheck); err != nil {
				return ExpiryResult{}, err
			}
			p.Status = StatusRunning
			continue
		}
		if !now.Before(end) {
			return ExpiryResult{Outcome: ExpiryDisabled}, disableAtEnd(ctx, in, e)
		}
		wake := end
		if !e.Warned {
			if now.Before(end.Add(-warning)) {
				wake = end.Add(-warning)
			} else if err := call(withDBSteps(ctx), acts.WarnExpiry,
				activities.WarnExpiryInput{InstanceID: in.InstanceID, ExpiresAt: end}, nil); err != nil {
				return ExpiryResult{}, err
			}
		}
		*p = ExpiryProgress{Status: StatusWaiting, ExpiresAt: &end, Warned: e.Warned || wake == end, NextWake: wake}
		timerCtx, cancel := workflow.WithCancel(ctx)
		s := workflow.NewSelector(ctx)
		s.AddReceive(changed, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, nil) })
		s.AddFuture(workflow.NewTimer(timerCtx, wake.Sub(now)), func(workflow.Future) {})
		s.Select(ctx)
		cancel()
		p.Status = StatusRunning
	}
}

// disableAtEnd starts the instance's DisableService and leaves it to its
// grace period; an already running disable is fine.
func disableAtEnd(ctx workflow.Context, in ExpiryInput, e activities.Expiry) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: DisableID(in.InstanceID), TaskQueue: TaskQueue,
		TypedSearchAttributes: SearchAttributes(e.AccountID, e.Service, in.InstanceID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, DisableService, DisableInput{
		InstanceID: in.InstanceID, AccountID: e.AccountID, GracePeriod: in.GracePeriod})
	var started workflow.Execution
	return child.GetChildWorkflowExecution().Get(ctx, &started)
}
