package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// EnableService's contract: one provisioning per instance on TaskQueue,
// started by StartEnable; the setup page reaches it through SendSetup; its
// progress query answers a Progress (StatusWaiting while it waits for
// setup).

// EnableServiceVersioning is pinned: provisioning runs every step on the
// build that started it, so a change to its steps never meets a half-done
// run. It may wait for the setup page (up to the setup timeout), keeping its
// build draining until the page arrives: the build's workers run until then.
const EnableServiceVersioning = workflow.VersioningBehaviorPinned

// EnableID is the business ID of an instance's provisioning.
func EnableID(instanceID string) string { return "enable/" + instanceID }

// SetupUpdate delivers the setup page (admin user, language). It may be sent
// before provisioning reaches the setup step.
const SetupUpdate = "setup"

// ReservedUpdate waits until the request is validated and the host
// reserved, returning the resolved request or why it was refused. The API
// sends it with the start (update-with-start), so a client learns at once
// whether its request was accepted.
const ReservedUpdate = "reserved"

// DefaultSetupTimeout is how long provisioning waits for the setup page
// before it gives up and removes what it made.
const DefaultSetupTimeout = 7 * 24 * time.Hour

// EnableInput is a client's request to enable a service.
type EnableInput struct {
	InstanceID   string
	AccountID    string
	ActorID      string
	Service      string
	Modules      []string
	Host         string
	Setup        *activities.Setup // optional: the setup sent up front
	SetupTimeout time.Duration     // zero means DefaultSetupTimeout
}

// EnableResult is the provisioned instance.
type EnableResult struct {
	InstanceID string
	Version    string
	Modules    []string
	Host       string
}

// EnableService's steps, in order; EnableStepCompensate only appears
// after a step failed for good.
const (
	EnableStepValidate   = "validate"
	EnableStepDatabase   = "create_database"
	EnableStepSetup      = "setup"
	EnableStepMigrate    = "migrate_and_seed"
	EnableStepHost       = "register_host"
	EnableStepBilling    = "open_billing"
	EnableStepReady      = "ready"
	EnableStepCompensate = "compensate"
)

// StartEnable starts EnableService together with the ReservedUpdate
// (update-with-start): one call that returns once the request is validated
// and the host reserved, or with the reason it was refused.
func StartEnable(ctx context.Context, c client.Client, in EnableInput) (activities.ReserveInstanceResult, error) {
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       EnableID(in.InstanceID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    SearchAttributes(in.AccountID, in.Service, in.InstanceID),
	}, EnableService, in)
	var reserved activities.ReserveInstanceResult
	handle, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: ReservedUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return reserved, err
	}
	return reserved, handle.Get(ctx, &reserved)
}

// SendSetup delivers the setup page to an instance's provisioning and
// waits until it is taken. The workflow's validator has the last word: its
// domain error (setup already received, provisioning failed, bad input)
// reaches the caller; provisioning that has closed is an apperr.Conflict.
func SendSetup(ctx context.Context, c client.Client, instanceID string, setup activities.Setup) error {
	return updateAndWait(ctx, c, EnableID(instanceID), SetupUpdate, setup)
}

// EnableService provisions a service instance: validate → create its
// database (child) → wait for setup → migrate and seed (child) → register
// the host → open billing → ready. If a step fails for good, what was made is
// removed and the instance is marked failed with the reason.
func EnableService(ctx workflow.Context, in EnableInput) (EnableResult, error) {
	s := &enable{in: in, setup: in.Setup}
	if err := s.init(ctx); err != nil {
		return EnableResult{}, err
	}
	res, err := s.run(ctx)
	// Let a waiting "reserved" update answer before the run closes.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return res, err
}

type enable struct {
	in       EnableInput
	t        *tracker
	setup    *activities.Setup
	reserved activities.ReserveInstanceResult
	// reserveErr is why validation refused the request, if it did.
	reserveErr error
	// created tells compensation what exists: the instance row, then the
	// database.
	reservedRow, databaseAllocated bool
}

func (s *enable) init(ctx workflow.Context) error {
	var err error
	s.t, err = newTracker(ctx,
		stepDef{EnableStepValidate, "Check the request and reserve the host"},
		stepDef{EnableStepDatabase, "Create the database and its role"},
		stepDef{EnableStepSetup, "Wait for the setup page (admin user, language)"},
		stepDef{EnableStepMigrate, "Create the tables and seed the admin user"},
		stepDef{EnableStepHost, "Route the host to the instance"},
		stepDef{EnableStepBilling, "Start billing the modules"},
		stepDef{EnableStepReady, "Ready"},
	)
	if err != nil {
		return err
	}
	// The database child says when it waits for room on a server.
	room := workflow.GetSignalChannel(ctx, RoomSignal)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			var waiting bool
			room.Receive(gctx, &waiting)
			s.waitingForRoom(gctx, waiting)
		}
	})
	if err := workflow.SetUpdateHandler(ctx, ReservedUpdate, s.awaitReserved); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, SetupUpdate, s.acceptSetup, workflow.UpdateHandlerOptions{
		Validator: s.validateSetup,
	})
}

// waitingForRoom shows in the progress that the database step waits for
// room on a database server (StatusWaiting), or no longer does.
func (s *enable) waitingForRoom(ctx workflow.Context, waiting bool) {
	step := s.t.step(EnableStepDatabase)
	if step.State != StepRunning && step.State != StepWaiting {
		return
	}
	if waiting {
		s.t.set(ctx, EnableStepDatabase, StepWaiting)
		s.t.p.Status, step.Note = StatusWaiting, WaitingForRoom
		return
	}
	s.t.set(ctx, EnableStepDatabase, StepRunning)
	s.t.p.Status, step.Note = StatusRunning, ""
}

func (s *enable) awaitReserved(ctx workflow.Context) (activities.ReserveInstanceResult, error) {
	if err := workflow.Await(ctx, func() bool { return s.reservedRow || s.reserveErr != nil }); err != nil {
		return activities.ReserveInstanceResult{}, err
	}
	if s.reserveErr != nil {
		// Keep the domain kind so the API can answer with the right status.
		return activities.ReserveInstanceResult{}, temporal.NewNonRetryableApplicationError(
			apperr.Message(s.reserveErr), string(apperr.KindOf(s.reserveErr)), nil)
	}
	return s.reserved, nil
}

func (s *enable) validateSetup(ctx workflow.Context, setup activities.Setup) error {
	if s.setup != nil {
		return apperr.ForTemporal(apperr.Conflict("setup was already received"))
	}
	if s.t.p.Status == StatusFailed {
		return apperr.ForTemporal(apperr.Conflict("provisioning failed: %s", s.t.p.Error))
	}
	return apperr.ForTemporal(setup.Check())
}

func (s *enable) acceptSetup(ctx workflow.Context, setup activities.Setup) error {
	s.setup = &setup
	return nil
}

func (s *enable) run(ctx workflow.Context) (EnableResult, error) {
	db := withDBSteps(ctx)
	err := s.provision(ctx, db)
	if err != nil {
		// Failed first, so a setup sent while compensation runs is refused.
		s.t.fail(ctx, err)
		s.compensate(ctx, err)
		return EnableResult{}, err
	}
	s.t.finish(StatusCompleted)
	return EnableResult{InstanceID: s.in.InstanceID, Version: s.reserved.Version, Modules: s.reserved.Modules, Host: s.reserved.Host}, nil
}

func (s *enable) provision(ctx, db workflow.Context) error {
	ref := activities.InstanceRef{InstanceID: s.in.InstanceID}
	steps := []struct {
		name string
		fn   func() error
	}{
		{EnableStepValidate, func() error {
			err := call(db, acts.ReserveInstance, activities.ReserveInstanceInput{
				InstanceID: s.in.InstanceID, AccountID: s.in.AccountID, ActorID: s.in.ActorID,
				Service: s.in.Service, Modules: s.in.Modules, Host: s.in.Host,
			}, &s.reserved)
			s.reservedRow, s.reserveErr = err == nil, err
			return err
		}},
		{EnableStepDatabase, func() error {
			s.databaseAllocated = true // from here on, a database may exist
			cctx := childOptions(ctx, CreateDatabaseID(s.in.InstanceID), s.in.AccountID, s.in.Service, s.in.InstanceID)
			return workflow.ExecuteChildWorkflow(cctx, CreateDatabase, ref).Get(ctx, nil)
		}},
		{EnableStepSetup, func() error { return s.awaitSetup(ctx) }},
		{EnableStepMigrate, func() error { return s.migrateAndSeed(ctx) }},
		{EnableStepHost, func() error { return call(db, acts.RegisterHost, ref, nil) }},
		{EnableStepBilling, func() error {
			return call(db, acts.OpenUsageSpans, activities.SpansInput{
				InstanceID: s.in.InstanceID, Modules: s.reserved.Modules, At: workflow.Now(ctx).UTC(),
			}, nil)
		}},
		{EnableStepReady, func() error {
			return call(db, acts.MarkReady, activities.MarkReadyInput{InstanceID: s.in.InstanceID, ActorID: s.in.ActorID}, nil)
		}},
	}
	for _, st := range steps {
		if err := s.t.run(ctx, st.name, st.fn); err != nil {
			return err
		}
	}
	return nil
}

// migrateInEnableVersion guards running the new instance's first migration
// and seed as one activity of the provisioning itself: runs recorded before
// it started a MigrateAndSeed child for them.
const migrateInEnableVersion = "migrate-in-enable"

// migrateAndSeed creates the tables of an instance's version and seeds them,
// as one regular activity (MigrateTenant with its Seed) of the
// provisioning: it heartbeats, may run an hour, and shows as the pending
// activity of `describe enable/<id>`. A child workflow here cost
// provisioning four server round trips (start, first task, closing task,
// the parent woken) for a fresh database whose migration takes
// milliseconds; upgrades, which migrate databases full of rows, keep their
// own migrate/<id>/<version> child.
func (s *enable) migrateAndSeed(ctx workflow.Context) error {
	if workflow.GetVersion(ctx, migrateInEnableVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		cctx := childOptions(ctx, MigrateAndSeedID(s.in.InstanceID, s.reserved.Version), s.in.AccountID, s.in.Service, s.in.InstanceID)
		return workflow.ExecuteChildWorkflow(cctx, MigrateAndSeed, MigrateAndSeedInput{
			InstanceID: s.in.InstanceID, Version: s.reserved.Version, Setup: s.setup, Modules: s.reserved.Modules,
		}).Get(ctx, nil)
	}
	return callLong(withLongSteps(ctx), acts.MigrateTenant, activities.MigrateInput{
		InstanceID: s.in.InstanceID, Version: s.reserved.Version,
		Seed: &activities.SeedInput{InstanceID: s.in.InstanceID, Setup: *s.setup, Modules: s.reserved.Modules},
	}, nil)
}

func (s *enable) awaitSetup(ctx workflow.Context) error {
	if s.setup != nil {
		return nil
	}
	timeout := s.in.SetupTimeout
	if timeout <= 0 {
		timeout = DefaultSetupTimeout
	}
	s.t.set(ctx, EnableStepSetup, StepWaiting)
	s.t.p.Status = StatusWaiting
	ok, err := workflow.AwaitWithTimeout(ctx, timeout, func() bool { return s.setup != nil })
	s.t.p.Status = StatusRunning
	if err != nil {
		return err
	}
	if !ok {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the setup page was not completed within %s", timeout), string(apperr.KindInvalid), nil)
	}
	return nil
}

// compensate removes what provisioning made, newest first. It runs on a
// disconnected context so it also completes when the workflow is cancelled.
func (s *enable) compensate(ctx workflow.Context, cause error) {
	if !s.reservedRow {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	db := withDBSteps(dctx)
	ref := activities.InstanceRef{InstanceID: s.in.InstanceID}
	reason := reasonOf(cause)
	err := s.t.run(dctx, EnableStepCompensate, func() error {
		var dropErr error
		if s.databaseAllocated {
			dropErr = longCall(dctx, acts.DropDatabase, ref, nil)
		}
		if dropErr != nil {
			// Still mark the instance failed, so its host is released and
			// the console shows why; the database left behind is named in
			// the reason for an operator.
			reason += " (its database could not be removed: " + apperr.Message(dropErr) + ")"
		}
		err := call(db, acts.FailInstance, activities.FailInstanceInput{
			InstanceID: s.in.InstanceID, Reason: reason, At: workflow.Now(dctx).UTC(),
		}, nil)
		if dropErr != nil {
			return dropErr
		}
		return err
	})
	s.t.step(EnableStepCompensate).Title = "Remove what was created"
	if err != nil {
		return // what was made is still there
	}
	for i := range s.t.p.Steps {
		st := &s.t.p.Steps[i]
		// Waiting for setup made nothing, so there is nothing it undid.
		if st.State == StepDone && st.Name != EnableStepCompensate && st.Name != EnableStepSetup {
			st.State = StepCompensated
		}
	}
}

// reasonOf is the plain-words reason stored on a failed instance.
func reasonOf(err error) string {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "provisioning was cancelled"
	}
	if apperr.KindOf(err) == apperr.KindInternal {
		return "provisioning " + ourSide
	}
	return apperr.Message(err)
}
