package workflows

import (
	"context"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// Signup's contract: one workflow per email address on TaskQueue, started
// and waited for by RunSignup; its progress query answers a Progress.

// SignupVersioning is pinned: it finishes in seconds, so it ends on the
// build it started on.
const SignupVersioning = workflow.VersioningBehaviorPinned

// SignupID is one workflow per email address, so a repeated signup is
// visibly the same business operation.
func SignupID(email string) string { return "signup/" + strings.ToLower(email) }

// SignupInput carries a hashed password only.
type SignupInput = activities.CreateAccountInput

// SignupResult names the new account and its owner.
type SignupResult = activities.CreateAccountResult

// Signup's step.
const SignupStepCreateAccount = "create_account"

// RunSignup runs the Signup of in.Email and waits for its result: it takes
// one short step, and the client wants its account now. A signup for the
// same email still running is an apperr.Conflict.
func RunSignup(ctx context.Context, c client.Client, in SignupInput) (SignupResult, error) {
	var res SignupResult
	run, err := startOnce(ctx, c, SignupID(in.Email), SearchAttributes(in.AccountID, "", ""),
		"a signup for "+in.Email+" is already in progress", Signup, in)
	if err != nil {
		return res, err
	}
	return res, run.Get(ctx, &res)
}

// Signup creates an account and its owner user.
func Signup(ctx workflow.Context, in SignupInput) (SignupResult, error) {
	t, err := newTracker(ctx, stepDef{SignupStepCreateAccount, "Create the account and its owner"})
	if err != nil {
		return SignupResult{}, err
	}
	var res SignupResult
	err = t.run(ctx, SignupStepCreateAccount, func() error {
		return call(withDBSteps(ctx), acts.CreateAccount, in, &res)
	})
	if err != nil {
		t.fail(ctx, err)
		return res, err
	}
	t.finish(StatusCompleted)
	return res, nil
}
