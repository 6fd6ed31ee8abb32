package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// DrainServer's contract: one per server at a time on TaskQueue, started
// by StartDrain once the server is draining; its progress query answers a
// DrainProgress.

// DrainServerVersioning is auto-upgrade: it may wait, on a durable timer,
// for as long as no other server has room (until an operator adds one);
// pinned, it would hold its build's workers that long. It moves to the
// current build at its next task, so every change to its code is guarded
// with workflow.GetVersion.
const DrainServerVersioning = workflow.VersioningBehaviorAutoUpgrade

// DrainServerID is the draining of the server named server.
func DrainServerID(server string) string { return "drain/" + server }

// DefaultDrainParallel is how many instances a drain moves at once.
const DefaultDrainParallel = 2

// DrainInput names the server to empty and how.
type DrainInput struct {
	ServerID string
	Server   string // its name
	ActorID  string
	Parallel int           // zero means DefaultDrainParallel
	Grace    time.Duration // each move's; zero means DefaultMoveGrace
}

// DrainMove is one instance a drain moved, or failed to.
type DrainMove struct {
	InstanceID string `json:"instance_id"`
	ToServer   string `json:"to_server,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
	Error      string `json:"error,omitempty"`
}

// DrainProgress is what DrainServer's progress query answers: the common
// Status, how many instances it found, and each move so far.
type DrainProgress struct {
	Status Status      `json:"status"`
	Error  string      `json:"error,omitempty"`
	Total  int         `json:"total"`
	Moved  []DrainMove `json:"moved"`
	Failed []DrainMove `json:"failed"`
	// Note says what the drain waits for (room on another server).
	Note string `json:"note,omitempty"`
}

// StartDrain starts moving every instance off a (draining) server, a few
// at a time, and returns the workflow's ID; a drain of it still running is
// an apperr.Conflict.
func StartDrain(ctx context.Context, c client.Client, in DrainInput) (string, error) {
	id := DrainServerID(in.Server)
	_, err := startOnce(ctx, c, id, temporal.SearchAttributes{}, "this server is already being drained", DrainServer, in)
	return id, err
}

// DrainServer moves every live instance off a server: it lists them, and
// runs MoveInstance children Parallel at a time, each to the server the
// placement rule picks then (waiting while none has room), going on with
// the next as soon as one runs on its new server (the moves keep their old
// copies for their grace periods on their own). A move that fails leaves
// its instance where it was and is reported; the drain fails at the end if
// any did.
func DrainServer(ctx workflow.Context, in DrainInput) (DrainProgress, error) {
	d := &drain{in: in, p: DrainProgress{Status: StatusRunning, Moved: []DrainMove{}, Failed: []DrainMove{}}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (DrainProgress, error) { return d.p, nil }); err != nil {
		return d.p, err
	}
	if err := d.run(ctx); err != nil {
		d.p.Status, d.p.Error = StatusFailed, apperr.Cause(err)
		return d.p, err
	}
	if len(d.p.Failed) > 0 {
		d.p.Status = StatusFailed
		d.p.Error = "some instances could not move and stay on " + in.Server + ": see failed"
		return d.p, temporal.NewNonRetryableApplicationError(d.p.Error, string(apperr.KindConflict), nil)
	}
	d.p.Status = StatusCompleted
	return d.p, nil
}

type drain struct {
	in DrainInput
	p  DrainProgress
}

func (d *drain) run(ctx workflow.Context) error {
	db := withDBSteps(ctx)
	var list []activities.ServerInstanceRef
	if err := call(db, acts.ServerInstances, activities.ServerRef{ServerID: d.in.ServerID}, &list); err != nil {
		return err
	}
	d.p.Total = len(list)
	parallel := d.in.Parallel
	if parallel <= 0 {
		parallel = DefaultDrainParallel
	}
	moved := workflow.GetSignalChannel(ctx, MovedSignal)
	for start := 0; start < len(list); start += parallel {
		pending := map[string]DrainMove{}
		sel := workflow.NewSelector(ctx)
		for _, inst := range list[start:min(start+parallel, len(list))] {
			target, err := d.target(ctx)
			if err != nil {
				return err
			}
			m := DrainMove{InstanceID: inst.InstanceID, ToServer: target, WorkflowID: MoveInstanceID(inst.InstanceID, target)}
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID: m.WorkflowID, TaskQueue: TaskQueue,
				TypedSearchAttributes: SearchAttributes(inst.AccountID, inst.Service, inst.InstanceID),
				// The move keeps its old copy for the grace period after
				// the drain has gone on, and ends.
				ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
			})
			pending[inst.InstanceID] = m
			f := workflow.ExecuteChildWorkflow(cctx, MoveInstance, MoveInput{InstanceID: inst.InstanceID, AccountID: inst.AccountID,
				Service: inst.Service, ActorID: d.in.ActorID, ToServer: target, Grace: d.in.Grace})
			sel.AddFuture(f, func(f workflow.Future) {
				err := f.Get(ctx, nil)
				if m, ok := pending[inst.InstanceID]; ok {
					delete(pending, inst.InstanceID)
					if err != nil {
						m.Error = apperr.Cause(err)
						d.p.Failed = append(d.p.Failed, m)
					} else {
						d.p.Moved = append(d.p.Moved, m)
					}
				}
			})
		}
		sel.AddReceive(moved, func(c workflow.ReceiveChannel, _ bool) {
			var id string
			c.Receive(ctx, &id)
			if m, ok := pending[id]; ok {
				delete(pending, id)
				d.p.Moved = append(d.p.Moved, m)
			}
		})
		for len(pending) > 0 {
			sel.Select(ctx)
		}
	}
	return nil
}

// target is the server the next instance moves to, waiting (on a durable
// timer) while no other active server has room.
func (d *drain) target(ctx workflow.Context) (string, error) {
	pause := 2 * time.Second
	for {
		var t activities.MoveTarget // fresh: decoding leaves out what is omitted
		if err := call(withDBSteps(ctx), acts.PickMoveTarget, activities.ServerRef{ServerID: d.in.ServerID}, &t); err != nil {
			return "", err
		}
		if !t.NoRoom {
			d.p.Status, d.p.Note = StatusRunning, ""
			return t.Server, nil
		}
		d.p.Status, d.p.Note = StatusWaiting, WaitingForRoom
		if err := workflow.Sleep(ctx, pause); err != nil {
			return "", err
		}
		pause = min(2*pause, roomWaitMax)
	}
}
