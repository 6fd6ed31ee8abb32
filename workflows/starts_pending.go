package workflows

// TEMPORARY: the platform layer's view of the Start helpers being written on
// the contracts branch; replaced by them at merge.

import (
	"context"
	"errors"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

func RunSignup(ctx context.Context, c client.Client, in SignupInput) (SignupResult, error) {
	var res SignupResult
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: SignupID(in.Email), TaskQueue: TaskQueue,
		TypedSearchAttributes: SearchAttributes(in.AccountID, "", ""),
	}, Signup, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return res, apperr.Conflict("a signup for %s is already in progress", in.Email)
	}
	if err != nil {
		return res, err
	}
	return res, run.Get(ctx, &res)
}

func StartChangeModules(ctx context.Context, c client.Client, in ChangeModulesInput, service string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: ChangeModulesID(in.InstanceID), TaskQueue: TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    SearchAttributes(in.AccountID, service, in.InstanceID),
	}, ChangeModules, in)
	return alreadyRunning(err, "a module change for this instance is already in progress")
}

func StartDisable(ctx context.Context, c client.Client, in DisableInput, service string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: DisableID(in.InstanceID), TaskQueue: TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    SearchAttributes(in.AccountID, service, in.InstanceID),
	}, DisableService, in)
	return alreadyRunning(err, "this instance is already being disabled")
}

func SendSetup(ctx context.Context, c client.Client, instanceID string, setup activities.Setup) error {
	return updateAndWait(ctx, c, EnableID(instanceID), SetupUpdate, setup)
}

func Reenable(ctx context.Context, c client.Client, instanceID string, req ReenableRequest) error {
	return updateAndWait(ctx, c, DisableID(instanceID), ReenableUpdate, req)
}

func WatchExpiry(ctx context.Context, c client.Client, in ExpiryInput, accountID, service string) error {
	_, err := c.SignalWithStartWorkflow(ctx, ExpiryID(in.InstanceID), ExpiryChangedSignal, nil,
		client.StartWorkflowOptions{TaskQueue: TaskQueue, TypedSearchAttributes: SearchAttributes(accountID, service, in.InstanceID)},
		InstanceExpiry, in)
	return err
}

func ExpiryChanged(ctx context.Context, c client.Client, instanceID string) error {
	_ = c.SignalWorkflow(ctx, ExpiryID(instanceID), "", ExpiryChangedSignal, nil)
	return nil
}

func RetryClose(ctx context.Context, c client.Client, accountID string) error {
	err := c.SignalWorkflow(ctx, BillingCycleID(accountID), "", RetryCloseSignal, nil)
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) {
		return apperr.NotFound("account %s has no running billing cycle", accountID)
	}
	return err
}

func updateAndWait(ctx context.Context, c client.Client, workflowID, name string, arg any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: name, Args: []any{arg},
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

func alreadyRunning(err error, msg string) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return apperr.Conflict("%s", msg)
	}
	return err
}

func IsAlreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
}
