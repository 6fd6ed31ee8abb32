package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// CreateDatabase's contract: a child of EnableService on TaskQueue (never
// started from outside a workflow); its progress query answers a Progress.

// CreateDatabaseID is the business ID of an instance's database creation.
func CreateDatabaseID(instanceID string) string { return "database/" + instanceID }

// CreateDatabaseInput names the instance whose database to create.
type CreateDatabaseInput = activities.InstanceRef

// CreateDatabaseResult names what was made; the password stays in the
// control database.
type CreateDatabaseResult = activities.DatabaseInfo

// RoomSignal is how CreateDatabase tells its parent (EnableService) that
// it waits for room on a database server (true) or has it again (false),
// so the parent's progress says so too.
const RoomSignal = "database-room"

// WaitingForRoom is the note of a step waiting because every active
// database server is full: it retries (after 2 s, doubling up to
// roomWaitMax) until a server has room, and never fails for that.
const WaitingForRoom = "waiting for room on a database server: every active server is full or draining (add a server, raise a capacity or make one active)"

// roomWaitMax is the longest pause between two placements of a waiting
// instance: a few thousand history events a day at most.
const roomWaitMax = 2 * time.Minute

// CreateDatabase's steps, in order.
const (
	CreateDatabaseStepAllocate = "allocate"
	CreateDatabaseStepRole     = "create_role"
	CreateDatabaseStepDatabase = "create_database"
)

// CreateDatabase picks a database server, creates the tenant's role and its
// database owned by that role, and closes the database to everybody else.
func CreateDatabase(ctx workflow.Context, in CreateDatabaseInput) (CreateDatabaseResult, error) {
	t, err := newTracker(ctx,
		stepDef{CreateDatabaseStepAllocate, "Pick a server, name the database, generate credentials"},
		stepDef{CreateDatabaseStepRole, "Create the tenant's role"},
		stepDef{CreateDatabaseStepDatabase, "Create the database, closed to others"},
	)
	if err != nil {
		return CreateDatabaseResult{}, err
	}
	db := withDBSteps(ctx)
	var info CreateDatabaseResult
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{CreateDatabaseStepAllocate, func() error { return allocate(ctx, t, in, &info) }},
		{CreateDatabaseStepRole, func() error { return call(db, acts.CreateRole, info, nil) }},
		{CreateDatabaseStepDatabase, func() error { return call(db, acts.CreateDatabase, info, nil) }},
	} {
		if err := t.run(ctx, st.name, st.fn); err != nil {
			t.fail(ctx, err)
			return info, err
		}
	}
	t.finish(StatusCompleted)
	return info, nil
}

// allocate places the database, waiting on a durable timer while every
// active server is full (StatusWaiting with the WaitingForRoom note, told
// to the parent too), and asking again until a server has room.
func allocate(ctx workflow.Context, t *tracker, in CreateDatabaseInput, info *CreateDatabaseResult) error {
	db := withDBSteps(ctx)
	pause, waited := 2*time.Second, false
	for {
		// Decoding leaves out what the answer omits (NoRoom false).
		*info = CreateDatabaseResult{}
		if err := call(db, acts.AllocateDatabase, in, info); err != nil {
			return err
		}
		if !info.NoRoom {
			if waited {
				t.p.Status, t.step(CreateDatabaseStepAllocate).Note = StatusRunning, ""
				t.set(ctx, CreateDatabaseStepAllocate, StepRunning)
				tellParent(ctx, RoomSignal, false)
			}
			return nil
		}
		if !waited {
			// Before this version a full fleet failed the step.
			if workflow.GetVersion(ctx, "wait-for-room", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
				return errors.New("no active database server has room for another tenant")
			}
			waited = true
			t.set(ctx, CreateDatabaseStepAllocate, StepWaiting)
			t.p.Status, t.step(CreateDatabaseStepAllocate).Note = StatusWaiting, WaitingForRoom
			tellParent(ctx, RoomSignal, true)
		}
		if err := workflow.Sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, roomWaitMax)
	}
}

// tellParent signals the parent workflow, if any (a database waits for
// room, an instance has moved); a parent that is gone needs no telling.
func tellParent(ctx workflow.Context, signal string, arg any) {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil {
		return
	}
	_ = workflow.SignalExternalWorkflow(ctx, parent.ID, "", signal, arg).Get(ctx, nil)
}
