// Package workflows holds Tenantry's durable workflows. Each file holds one
// workflow: at its top the contract (ID builder, signal/query/update names,
// input, result and progress types, step names) and the Start… or update
// helpers through which the platform layer starts and drives it, no
// workflow being started anywhere else; then its code. The steps are
// activities in package activities. Every progress query answer carries
// the common Status (see Progress).
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// TaskQueue is where the worker listens for every workflow and activity.
const TaskQueue = "tenantry"

// acts is how workflows name activities: methods of a nil pointer, resolved
// to the worker's registered instance.
var acts *activities.Activities

// retryDB retries transient database errors with backoff; domain errors
// (bad input, conflicts) are final.
var retryDB = &temporal.RetryPolicy{
	InitialInterval:    200 * time.Millisecond,
	BackoffCoefficient: 2,
	MaximumInterval:    10 * time.Second,
	MaximumAttempts:    8,
	NonRetryableErrorTypes: []string{
		string(apperr.KindInvalid), string(apperr.KindConflict),
		string(apperr.KindNotFound), string(apperr.KindForbidden),
	},
}

// withDBSteps runs activities as local activities: each step is a short
// database call, and a server round trip per step would cost more than the
// step itself (see DESIGN.md's measurements). They still appear in the
// history as markers and retry with retryDB.
func withDBSteps(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            retryDB,
	})
}

// call runs one step and decodes its result into out (which may be nil).
func call(ctx workflow.Context, fn any, in any, out any) error {
	f := workflow.ExecuteLocalActivity(ctx, fn, in)
	if out == nil {
		return f.Get(ctx, nil)
	}
	return f.Get(ctx, out)
}

// SearchAttributes tags a workflow so operators can find it by tenant,
// service or instance with `temporal workflow list --query`.
func SearchAttributes(tenantID, service, instanceID string) temporal.SearchAttributes {
	var u []temporal.SearchAttributeUpdate
	if tenantID != "" {
		u = append(u, temporal.NewSearchAttributeKeyKeyword("TenantId").ValueSet(tenantID))
	}
	if service != "" {
		u = append(u, temporal.NewSearchAttributeKeyKeyword("ServiceName").ValueSet(service))
	}
	if instanceID != "" {
		u = append(u, temporal.NewSearchAttributeKeyKeyword("InstanceId").ValueSet(instanceID))
	}
	return temporal.NewSearchAttributes(u...)
}

// childOptions names a child workflow by its business ID and tags it like
// its parent.
func childOptions(ctx workflow.Context, id string, tenantID, service, instanceID string) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		TaskQueue:             TaskQueue,
		TypedSearchAttributes: SearchAttributes(tenantID, service, instanceID),
		WaitForCancellation:   true,
	})
}
