package workflows

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// Bind's and Unbind's contract: one per broker binding on TaskQueue,
// started by StartBind and StartUnbind (the platform layer's broker
// operations, which wait for the result); each progress query answers a
// Progress. The input names the binding by its Tenantry id: the password is
// generated and sealed by the activity, never carried here.

// BindID names the creation of a binding's login role.
func BindID(instanceID, bindingID string) string { return "bind/" + instanceID + "/" + bindingID }

// UnbindID names the removal of a binding's login role.
func UnbindID(instanceID, bindingID string) string { return "unbind/" + instanceID + "/" + bindingID }

// BindInput names a binding, its instance and who asked.
type BindInput struct {
	BindingID  string
	InstanceID string
	AccountID  string
	Service    string // for the search attributes
}

// Bind's and Unbind's steps.
const (
	BindStepRole   = "role"
	UnbindStepRole = "drop_role"
)

// StartBind starts a binding's Bind; one still running is an
// apperr.Conflict. The run's Get waits for its end.
func StartBind(ctx context.Context, c client.Client, in BindInput) (client.WorkflowRun, error) {
	return startOnce(ctx, c, BindID(in.InstanceID, in.BindingID), SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"this binding is already being created", Bind, in)
}

// StartUnbind starts a binding's Unbind; one still running is an
// apperr.Conflict. The run's Get waits for its end.
func StartUnbind(ctx context.Context, c client.Client, in BindInput) (client.WorkflowRun, error) {
	return startOnce(ctx, c, UnbindID(in.InstanceID, in.BindingID), SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"this binding is already being removed", Unbind, in)
}

// Bind creates a binding's login role, read-only on its instance's
// database, with a password the activity generates and stores sealed.
func Bind(ctx workflow.Context, in BindInput) error {
	return roleStep(ctx, BindStepRole, "Create the binding's read-only login role", acts.CreateBindingRole, in)
}

// Unbind revokes a binding's grants, ends its sessions and drops its role.
func Unbind(ctx workflow.Context, in BindInput) error {
	return roleStep(ctx, UnbindStepRole, "Revoke and drop the binding's login role", acts.DropBindingRole, in)
}

// roleStep runs one step on the tenant's database server as a regular
// activity (a side effect on another server, retried with backoff and
// visible in describe), tracked in the progress.
func roleStep(ctx workflow.Context, name, title string, fn any, in BindInput) error {
	t, err := newTracker(ctx, stepDef{name, title})
	if err != nil {
		return err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            retryDB,
	})
	err = t.run(ctx, name, func() error {
		return workflow.ExecuteActivity(actx, fn, activities.BindingRef{BindingID: in.BindingID}).Get(ctx, nil)
	})
	if err != nil {
		t.fail(ctx, err)
		return err
	}
	t.finish(StatusCompleted)
	return nil
}
