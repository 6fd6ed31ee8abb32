package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

func signupInput() workflows.SignupInput {
	return workflows.SignupInput{
		AccountID: accountID, UserID: actorID, Email: "Ada@Example.com", Name: "Ada",
		AccountName: "Analytical Engines", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
	}
}

func TestSignup(t *testing.T) {
	h := newHarness(t)
	h.stub(acts.CreateAccount, activities.CreateAccountResult{AccountID: accountID, UserID: actorID}, nil)

	h.env.ExecuteWorkflow(workflows.Signup, signupInput())

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.SignupResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.SignupResult{AccountID: accountID, UserID: actorID}, res)
	assert.Equal(t, signupInput(), input[activities.CreateAccountInput](h, acts.CreateAccount))

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{"create_account": workflows.StepDone}, states(p))
}

func TestSignupConflict(t *testing.T) {
	h := newHarness(t)
	const msg = "an account with email ada@example.com already exists"
	h.failAt(acts.CreateAccount, temporal.NewNonRetryableApplicationError(msg, "conflict", nil))
	h.stub(acts.CreateAccount, activities.CreateAccountResult{}, nil)

	h.env.ExecuteWorkflow(workflows.Signup, signupInput())

	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Equal(t, msg, apperr.Message(err))
	assert.Equal(t, names(acts.CreateAccount), h.called(), "a conflict is not retried")

	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, msg, p.Error)
	s := step(t, p, "create_account")
	assert.Equal(t, workflows.StepFailed, s.State)
	assert.Equal(t, msg, s.Error)
}
