package workflows

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// MoveInstance's contract: one per instance and target server on
// TaskQueue, started by StartMove (a DrainServer runs it as a child); its
// progress query answers a Progress (StatusWaiting while the old copy is
// kept for the grace period).

// MoveInstanceVersioning is auto-upgrade: after the switch it keeps the old
// copy for the grace period (a day by default); pinned, it would hold its
// build's workers that long. It moves to the current build at its next
// task, so every change to its code is guarded with workflow.GetVersion.
const MoveInstanceVersioning = workflow.VersioningBehaviorAutoUpgrade

// MoveInstanceID is the move of an instance's database to the server named
// server.
func MoveInstanceID(instanceID, server string) string { return "move/" + instanceID + "/" + server }

// DefaultMoveGrace is how long the old copy of a moved database is kept
// before it is dropped.
const DefaultMoveGrace = 24 * time.Hour

// MovedSignal is how MoveInstance tells its parent (a DrainServer) that
// the instance runs on its new server, before the grace period.
const MovedSignal = "instance-moved"

// MoveInput names the instance, the server to move its database to, and
// who asked.
type MoveInput struct {
	InstanceID string
	AccountID  string // for the search attributes
	Service    string // for the search attributes
	ActorID    string
	ToServer   string        // the target server's name
	Grace      time.Duration // zero means DefaultMoveGrace
}

// MoveResult is where the database went and what the copy held.
type MoveResult struct {
	FromServer string
	ToServer   string
	Tables     int
	Rows       int64
}

// MoveInstance's steps, in order; MoveStepAbandon only appears after a
// step before the switch failed.
const (
	MoveStepValidate       = "validate"
	MoveStepMaintenanceOn  = "maintenance_on"
	MoveStepCopy           = "copy"
	MoveStepVerify         = "verify"
	MoveStepSwitch         = "switch"
	MoveStepMaintenanceOff = "maintenance_off"
	MoveStepGrace          = "grace"
	MoveStepDropOld        = "drop_old_copy"
	MoveStepAbandon        = "abandon"
)

// StartMove starts moving an instance's database to a server and returns
// the workflow's ID; the same move still running is an apperr.Conflict.
func StartMove(ctx context.Context, c client.Client, in MoveInput) (string, error) {
	id := MoveInstanceID(in.InstanceID, in.ToServer)
	_, err := startOnce(ctx, c, id, SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"a move of this instance to "+in.ToServer+" is already running", MoveInstance, in)
	return id, err
}

// MoveInstance moves one instance's database to another server: validate
// → maintenance on (the routers answer 503) → copy the database and its
// role to the target (pg_dump | pg_restore, the source closed to its role
// meanwhile) → verify the copy (row counts of every table) → switch the
// instance to the target and tell the routers → maintenance off → keep the
// old copy for the grace period (durable timer) → drop it. A failure
// before the switch removes the partial copy, reopens the source and ends
// maintenance: the instance stays where it was, and the move fails for
// good with its reason.
func MoveInstance(ctx workflow.Context, in MoveInput) (MoveResult, error) {
	m := &move{in: in}
	var err error
	m.t, err = newTracker(ctx,
		stepDef{MoveStepValidate, "Check the instance and the target server"},
		stepDef{MoveStepMaintenanceOn, "Put the instance in maintenance"},
		stepDef{MoveStepCopy, "Copy the database and its role to " + in.ToServer},
		stepDef{MoveStepVerify, "Verify the copy (rows of every table)"},
		stepDef{MoveStepSwitch, "Switch the instance to " + in.ToServer + " and tell the routers"},
		stepDef{MoveStepMaintenanceOff, "End maintenance"},
		stepDef{MoveStepGrace, "Keep the old copy for the grace period"},
		stepDef{MoveStepDropOld, "Drop the old copy"},
	)
	if err != nil {
		return MoveResult{}, err
	}
	if err := m.run(ctx); err != nil {
		return m.result, err
	}
	m.t.finish(StatusCompleted)
	return m.result, nil
}

type move struct {
	in     MoveInput
	t      *tracker
	plan   activities.MovePlan
	result MoveResult
	// inMaintenance: maintenance was (maybe) turned on and must end.
	inMaintenance bool
}

// withServerSteps runs the steps that work on the database servers
// themselves (copies, counts, drops) as regular activities: they take
// long, heartbeat, and are cancelled with the move.
func withServerSteps(ctx workflow.Context, timeout time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    longStepHeartbeat,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: retryDB.NonRetryableErrorTypes,
		},
	})
}

func (m *move) run(ctx workflow.Context) error {
	db := withDBSteps(ctx)
	check := activities.MoveInput{InstanceID: m.in.InstanceID, ToServer: m.in.ToServer}
	if err := m.t.run(ctx, MoveStepValidate, func() error { return call(db, acts.CheckMove, check, &m.plan) }); err != nil {
		return m.fail(ctx, err, false)
	}
	m.result = MoveResult{FromServer: m.plan.FromServer, ToServer: m.plan.ToServer}
	servers := withServerSteps(ctx, time.Hour)
	var verified activities.CopyCounts
	before := []struct {
		name string
		fn   func() error
	}{
		{MoveStepMaintenanceOn, func() error {
			m.inMaintenance = true
			return call(db, acts.SetMaintenance, activities.MaintenanceInput{InstanceID: m.in.InstanceID, On: true,
				By: MoveInstanceID(m.in.InstanceID, m.in.ToServer)}, nil)
		}},
		{MoveStepCopy, func() error {
			return workflow.ExecuteActivity(servers, acts.CopyTenantDatabase, m.plan).Get(ctx, nil)
		}},
		{MoveStepVerify, func() error {
			return workflow.ExecuteActivity(servers, acts.VerifyTenantCopy, m.plan).Get(ctx, &verified)
		}},
		{MoveStepSwitch, func() error { return call(db, acts.SwitchServer, m.plan, nil) }},
	}
	for _, st := range before {
		if err := m.t.run(ctx, st.name, st.fn); err != nil {
			return m.fail(ctx, err, true)
		}
	}
	m.result.Tables, m.result.Rows = verified.Tables, verified.Rows
	if err := m.t.run(ctx, MoveStepMaintenanceOff, func() error { return m.endMaintenance(ctx) }); err != nil {
		return m.fail(ctx, err, false)
	}
	// A DrainServer goes on once the instance runs on its new server.
	tellParent(ctx, MovedSignal, m.in.InstanceID)
	grace := m.in.Grace
	if grace <= 0 {
		grace = DefaultMoveGrace
	}
	m.t.set(ctx, MoveStepGrace, StepWaiting)
	m.t.p.Status = StatusWaiting
	err := workflow.Sleep(ctx, grace)
	m.t.p.Status = StatusRunning
	if err != nil {
		return m.fail(ctx, err, false)
	}
	m.t.set(ctx, MoveStepGrace, StepDone)
	old := activities.DropCopyInput{InstanceID: m.in.InstanceID, ServerID: m.plan.FromServerID, Database: m.plan.Database, Role: m.plan.Role}
	if err := m.t.run(ctx, MoveStepDropOld, func() error {
		return workflow.ExecuteActivity(withServerSteps(ctx, 10*time.Minute), acts.DropTenantCopy, old).Get(ctx, nil)
	}); err != nil {
		return m.fail(ctx, err, false)
	}
	return nil
}

// endMaintenance ends the instance's maintenance, also when the move is
// cancelled.
func (m *move) endMaintenance(ctx workflow.Context) error {
	err := endMaintenance(ctx, m.in.InstanceID, MoveInstanceID(m.in.InstanceID, m.in.ToServer))
	if err == nil {
		m.inMaintenance = false
	}
	return err
}

// fail records why the move failed and returns a final error an operator
// can read. Before the switch (beforeSwitch) it first abandons the copy
// (the partial target copy dropped, the source reopened) and ends
// maintenance, so the instance runs where it was.
func (m *move) fail(ctx workflow.Context, cause error, beforeSwitch bool) error {
	reason := apperr.Cause(cause)
	var failed string
	for _, s := range m.t.p.Steps {
		if s.State == StepFailed {
			failed = s.Name
		}
	}
	if failed != "" {
		m.t.step(failed).Error = reason
		reason = failed + " failed: " + reason
	}
	if beforeSwitch && m.inMaintenance {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		err := m.t.run(dctx, MoveStepAbandon, func() error {
			return workflow.ExecuteActivity(withServerSteps(dctx, 10*time.Minute), acts.AbandonTenantCopy, m.plan).Get(dctx, nil)
		})
		m.t.step(MoveStepAbandon).Title = "Drop the partial copy and reopen the source"
		if err != nil {
			reason += " (and the partial copy could not be removed: " + apperr.Cause(err) + ")"
		}
		if err := m.t.run(dctx, MoveStepMaintenanceOff, func() error { return m.endMaintenance(dctx) }); err != nil {
			reason += " (and maintenance could not be ended: " + apperr.Cause(err) + ")"
		}
		reason += "; the instance stays on " + m.plan.FromServer
	}
	err := temporal.NewNonRetryableApplicationError(reason, string(apperr.KindOf(cause)), cause)
	m.t.fail(ctx, err)
	m.t.p.Error = reason // operators read it, also when the cause is internal
	return err
}
