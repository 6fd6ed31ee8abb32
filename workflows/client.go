package workflows

import (
	"context"
	"errors"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tenantry/internal/apperr"
)

// The helpers below are what the Start… and update helpers of each
// workflow share: they run in the caller's process (the platform layer),
// never inside a workflow.

// startOnce starts wf(in) as workflow id on TaskQueue, tagged with attrs.
// While a run with that ID is still going, a new start is refused with
// apperr.Conflict(busy); once it has closed, the ID may run again.
func startOnce(ctx context.Context, c client.Client, id string, attrs temporal.SearchAttributes,
	busy string, wf, in any) (client.WorkflowRun, error) {
	return startOnceOn(ctx, c, TaskQueue, id, attrs, busy, wf, in)
}

// startOnceOn is startOnce on another task queue (a service's own).
func startOnceOn(ctx context.Context, c client.Client, queue, id string, attrs temporal.SearchAttributes,
	busy string, wf, in any) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without it the SDK hands back the running run as if it had started.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    attrs,
	}, wf, in)
	if err := alreadyRunning(err, busy); err != nil {
		return nil, err
	}
	return run, nil
}

// alreadyRunning maps the server's "already started" to apperr.Conflict(msg).
func alreadyRunning(err error, msg string) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return apperr.Conflict("%s", msg)
	}
	return err
}

// updateAndWait sends update name with arg to the running workflow id and
// waits for its handler. The workflow's validator has the last word (its
// domain error reaches the caller); a workflow that has closed means the
// moment for the update has passed.
func updateAndWait(ctx context.Context, c client.Client, id, name string, arg any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return apperr.Conflict("this operation has already finished")
	}
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}
