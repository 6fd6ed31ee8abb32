package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// PriceChange's contract: one per scheduled change on TaskQueue, started
// by StartPriceChange; its progress query answers a Progress (StatusWaiting
// until the change's instant).

// PriceChangeID names the one workflow of a scheduled price change, e.g.
// price/forum/search/2027-01-01T00:00:00Z:
//
//	go tool temporal workflow describe --workflow-id price/forum/search/2027-01-01T00:00:00Z
func PriceChangeID(service, module string, effectiveAt time.Time) string {
	return "price/" + service + "/" + module + "/" + effectiveAt.UTC().Format(time.RFC3339)
}

// PriceChangeInput names the scheduled change; its price is read from the
// control database when it applies, never carried here, so an edit made
// after the workflow started wins.
type PriceChangeInput struct {
	Service     string
	Module      string
	EffectiveAt time.Time
}

// PriceChangeResult is the schedule row as the change left it (applied,
// or cancelled before its instant).
type PriceChangeResult = activities.ScheduledPrice

// PriceChange's steps, in order.
const (
	PriceChangeStepWait  = "wait"
	PriceChangeStepApply = "apply"
)

// StartPriceChange starts the workflow of a scheduled change, or leaves a
// running one alone. A closed one is started again only when start-up
// finds its row still scheduled: a change cancelled, then put back in the
// manifest (an applied or cancelled row is never started).
func StartPriceChange(ctx context.Context, c client.Client, in PriceChangeInput) (client.WorkflowRun, error) {
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       PriceChangeID(in.Service, in.Module, in.EffectiveAt),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    SearchAttributes("", in.Service, ""),
	}, PriceChange, in)
}

// PriceChange sleeps on a durable timer until the change's instant, then
// applies it at that instant through an idempotent activity that re-reads
// the schedule row: a change cancelled meanwhile completes without
// applying. A worker down at the instant applies it late, still splitting
// the spans at the instant. Its progress query answers a Progress with the
// steps "wait" and "apply".
func PriceChange(ctx workflow.Context, in PriceChangeInput) (PriceChangeResult, error) {
	t, err := newTracker(ctx,
		stepDef{PriceChangeStepWait, "Wait until " + in.EffectiveAt.UTC().Format(time.RFC3339)},
		stepDef{PriceChangeStepApply, "Apply the price from " + in.EffectiveAt.UTC().Format(time.RFC3339)})
	if err != nil {
		return activities.ScheduledPrice{}, err
	}
	t.p.Status = StatusWaiting
	t.set(ctx, PriceChangeStepWait, StepWaiting)
	if d := in.EffectiveAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			t.fail(ctx, err)
			return activities.ScheduledPrice{}, err
		}
	}
	t.set(ctx, PriceChangeStepWait, StepDone)
	t.p.Status = StatusRunning
	var out activities.ScheduledPrice
	if err := t.run(ctx, PriceChangeStepApply, func() error {
		return call(withDBSteps(ctx), acts.ApplyScheduledPrice,
			activities.ScheduledPriceInput{Service: in.Service, Module: in.Module, EffectiveAt: in.EffectiveAt}, &out)
	}); err != nil {
		t.fail(ctx, err)
		return out, err
	}
	if out.Status == activities.PriceCancelled {
		t.step(PriceChangeStepApply).State = StepSkipped
		t.step(PriceChangeStepApply).Error = "cancelled: the change left the manifest before it applied"
	}
	t.finish(StatusCompleted)
	return out, nil
}
