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
		string(apperr.KindNotFound), string(apperr.KindForbidden), string(apperr.KindFailed),
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
	return workflow.ExecuteLocalActivity(ctx, fn, in).Get(ctx, out)
}

// Long steps (tenant migrations, seeds, database drops) may take minutes
// on a large tenant, far past a local activity's attempt: they run as
// regular activities, so each attempt, retry and pending step shows in
// `temporal workflow describe` and the Web UI. Each attempt may run an
// hour and must heartbeat (activities.longStep does, every 2 s) at least
// every longStepHeartbeat, so a worker that dies is noticed within it and
// the step is retried elsewhere: 10 s keeps a SIGKILLed worker's migration
// inside the fault suite's recovery goal (30 s did not) while leaving room
// for a slow heartbeat on a loaded machine. A cancelled workflow cancels
// the step and waits until it has stopped.
const (
	longStepAttempt   = time.Hour
	longStepHeartbeat = 10 * time.Second
	// longStepTotal bounds a long step's attempts together: a database
	// server that stays unreachable this long fails the step.
	longStepTotal = 24 * time.Hour
)

// retryLong retries a long step until it succeeds, fails for good (a
// domain or apperr.Failed error, returned at once), or longStepTotal ends:
// a worker killed during a migration costs an attempt, and however often
// that happens it must not fail the provisioning or upgrade, as a limit on
// attempts would.
var retryLong = &temporal.RetryPolicy{
	InitialInterval:        retryDB.InitialInterval,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	NonRetryableErrorTypes: retryDB.NonRetryableErrorTypes,
}

// longStepsVersion guards the move of long steps from local to regular
// activities: histories recorded before it keep replaying their local
// activity markers.
const longStepsVersion = "long-steps-are-activities"

// longSteps reports whether this run schedules long steps as regular
// activities (every run that reaches the step with today's code).
func longSteps(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, longStepsVersion, workflow.DefaultVersion, 1) == 1
}

// withLongSteps gives regular activities their deadlines, heartbeat timeout
// and retries (retryLong). The options are not part of what a replay
// checks, so recorded runs replay as they ran.
func withLongSteps(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: longStepTotal,
		StartToCloseTimeout:    longStepAttempt,
		HeartbeatTimeout:       longStepHeartbeat,
		WaitForCancellation:    true,
		RetryPolicy:            retryLong,
	})
}

// callLong runs one long step as a regular activity (see withLongSteps).
func callLong(ctx workflow.Context, fn any, in any, out any) error {
	return workflow.ExecuteActivity(ctx, fn, in).Get(ctx, out)
}

// longCall runs a long step: as a regular activity when this run takes
// that path (longSteps), else as the local activity older runs recorded.
func longCall(ctx workflow.Context, fn any, in any, out any) error {
	if longSteps(ctx) {
		return callLong(withLongSteps(ctx), fn, in, out)
	}
	return call(withDBSteps(ctx), fn, in, out)
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
