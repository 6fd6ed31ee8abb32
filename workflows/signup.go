package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// SignupID is one workflow per email address, so a repeated signup is
// visibly the same business operation.
func SignupID(email string) string { return "signup/" + strings.ToLower(email) }

// SignupInput carries a hashed password only.
type SignupInput = activities.CreateAccountInput

// SignupResult names the new account and its owner.
type SignupResult = activities.CreateAccountResult

// Signup creates an account and its owner user.
func Signup(ctx workflow.Context, in SignupInput) (SignupResult, error) {
	t, err := newTracker(ctx, stepDef{"create_account", "Create the account and its owner"})
	if err != nil {
		return SignupResult{}, err
	}
	var res SignupResult
	err = t.run(ctx, "create_account", func() error {
		return call(withDBSteps(ctx), acts.CreateAccount, in, &res)
	})
	if err != nil {
		t.fail(ctx, err)
		return res, err
	}
	t.finish(StatusCompleted)
	return res, nil
}
