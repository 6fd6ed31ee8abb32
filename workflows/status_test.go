package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/workflows"
)

// The pages read every workflow's progress as a workflows.Progress (see
// web/progress.go): only its common Status tells a workflow asleep on a
// timer or waiting for a person from a stuck one. The long-lived workflows
// with progress types of their own must report it too.

// TestExpiryWatchReportsWaitingWhileAsleep: the watch is waiting while it
// sleeps until its next wake, running once woken, completed at its end.
func TestExpiryWatchReportsWaitingWhileAsleep(t *testing.T) {
	h := newHarness(t)
	end := start.Add(30 * 24 * time.Hour)
	expiry := activities.Expiry{AccountID: accountID, Service: "forum", Status: "ready", ExpiresAt: &end}
	h.env.OnActivity(acts.InstanceExpiry, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.InstanceRef) (activities.Expiry, error) { return expiry, nil })
	h.at(time.Hour, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusWaiting, p.Status, "asleep until the warning")
		assert.Empty(t, p.Error)
		expiry.ExpiresAt = nil // the end removed: the watch stops
		h.env.SignalWorkflow(workflows.ExpiryChangedSignal, nil)
	})

	h.env.ExecuteWorkflow(workflows.InstanceExpiry, workflows.ExpiryInput{InstanceID: instanceID})

	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.ExpiryResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.ExpiryNoEnd, res.Outcome)
	assert.Equal(t, workflows.StatusCompleted, h.progress().Status)
}

// TestBillingCycleReportsWaitingWhileAsleep: the cycle is waiting until its
// period ends; a close that failed is not waiting (it is a problem to show,
// with its reason) while it sleeps until its retry.
func TestBillingCycleReportsWaitingWhileAsleep(t *testing.T) {
	h := newHarness(t)
	period := billing.Period{Start: start, End: start.Add(24 * time.Hour)}
	fails := 1
	h.env.OnActivity(acts.CloseBillingPeriod, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ClosePeriodInput) (activities.InvoiceSummary, error) {
			if fails > 0 {
				fails--
				return activities.InvoiceSummary{}, domainErr(apperr.Invalid("an invoice holds one currency"))
			}
			return activities.InvoiceSummary{}, nil
		})
	h.at(12*time.Hour, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusWaiting, p.Status, "asleep until the period ends")
		assert.Empty(t, p.Error)
	})
	h.at(24*time.Hour+30*time.Minute, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusFailed, p.Status, "a failed close waits for its retry, but it is a problem")
		assert.NotEmpty(t, p.Error)
	})

	h.env.ExecuteWorkflow(workflows.BillingCycle, workflows.BillingCycleInput{AccountID: accountID, Period: period})

	require.True(t, h.env.IsWorkflowCompleted())
	assert.ErrorContains(t, h.env.GetWorkflowError(), "continue as new")
}
