package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/billingtest"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

// TestInstanceExpiry: a trial ending in ten days is warned three days in
// (a week before), renewed on day five to day twenty (warned again a week
// before the new end), and disabled through DisableService at the end.
func TestInstanceExpiry(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewControl(t)
	day := 24 * time.Hour
	now := start
	c.Acts.Clock = func() time.Time { return now }
	acc, err := billingtest.Account(ctx, c.DB, "Trial")
	require.NoError(t, err)
	inst, err := billingtest.Instance(ctx, c.DB, acc, "forum", "trial.localhost", []string{"core"}, start)
	require.NoError(t, err)
	end := start.Add(10 * day)
	require.NoError(t, controldb.SetInstanceExpiry(ctx, c.Acts.DB, controldb.ExpiryChange{InstanceID: inst, ExpiresAt: &end}, c.Acts.Clock()))

	h := newHarness(t)
	h.env.RegisterActivity(c.Acts)
	var disabledAt time.Time
	h.env.OnWorkflow(workflows.DisableService, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in workflows.DisableInput) (workflows.DisableResult, error) {
			disabledAt = h.env.Now()
			assert.Equal(t, inst, in.InstanceID)
			assert.Equal(t, acc, in.AccountID)
			return workflows.DisableResult{}, nil
		})
	warnings := func() int {
		var n int
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'instance.expiry_warning' AND object_id = $1`, inst).Scan(&n))
		return n
	}
	h.env.RegisterDelayedCallback(func() {
		assert.Equal(t, 1, warnings(), "warned a week before the end")
		now = h.env.Now()
		renewed := start.Add(20 * day)
		require.NoError(t, controldb.SetInstanceExpiry(ctx, c.Acts.DB, controldb.ExpiryChange{InstanceID: inst, ExpiresAt: &renewed}, c.Acts.Clock()))
		h.env.SignalWorkflow(workflows.ExpiryChangedSignal, nil)
	}, 5*day)
	h.env.RegisterDelayedCallback(func() {
		assert.Equal(t, 1, warnings(), "no warning for the renewed end yet")
		v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
		require.NoError(t, err)
		var p workflows.ExpiryProgress
		require.NoError(t, v.Get(&p))
		assert.Equal(t, start.Add(13*day), p.NextWake)
		assert.Equal(t, workflows.StatusWaiting, p.Status, "asleep until the next wake")
		assert.Equal(t, workflows.StatusWaiting, h.progress().Status, "the common Status the pages read")
	}, 12*day)
	h.env.ExecuteWorkflow(workflows.InstanceExpiry, workflows.ExpiryInput{InstanceID: inst})
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.ExpiryResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, "disabled", res.Outcome)
	assert.Equal(t, start.Add(20*day), disabledAt.UTC())
	assert.Equal(t, 2, warnings())
	assert.Equal(t, workflows.StatusCompleted, h.progress().Status)
}

// An end that comes while the instance is being upgraded waits for the
// upgrade to finish, then disables it.
func TestExpiryWaitsForAnUpgrade(t *testing.T) {
	h := newHarness(t)
	end := start.Add(time.Hour)
	upgradedAt := end.Add(4 * time.Minute)
	h.env.OnActivity(acts.InstanceExpiry, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.InstanceRef) (activities.Expiry, error) {
			return activities.Expiry{AccountID: accountID, Service: "forum", Status: "ready", ExpiresAt: &end, Warned: true,
				Maintenance: h.env.Now().Before(upgradedAt)}, nil
		})
	var disabledAt time.Time
	h.env.OnWorkflow(workflows.DisableService, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in workflows.DisableInput) (workflows.DisableResult, error) {
			disabledAt = h.env.Now()
			return workflows.DisableResult{}, nil
		})
	var waiting workflows.ExpiryProgress
	h.at(time.Hour+time.Minute, func() {
		v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&waiting))
	})

	h.env.ExecuteWorkflow(workflows.InstanceExpiry, workflows.ExpiryInput{InstanceID: instanceID})

	require.NoError(t, h.env.GetWorkflowError())
	assert.Equal(t, workflows.StatusWaiting, waiting.Status)
	assert.False(t, disabledAt.Before(upgradedAt), "disabled at %s, the upgrade ended at %s", disabledAt, upgradedAt)
	assert.Less(t, disabledAt.Sub(upgradedAt), time.Minute)
}
