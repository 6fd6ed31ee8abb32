package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

// scheduledSearch gives a control database's forum search module (2/h) a
// change to 10/h at effective, synced, with the activities on the workflow
// clock, and returns an instance using search since start.
func scheduledSearch(t *testing.T, h *harness, effective time.Time) (*testenv.Control, string) {
	t.Helper()
	ctx := context.Background()
	c := testenv.NewControl(t)
	cat, err := billingtest.Prices("forum", "search", 2,
		catalog.PriceChange{EffectiveAt: effective.Format(time.RFC3339), HourlyPriceMinor: 10})
	require.NoError(t, err)
	c.Acts.Catalog = cat
	c.Acts.Clock = h.env.Now
	require.NoError(t, controldb.SyncPriceSchedule(ctx, c.Acts.DB, c.Acts.Catalog))
	acc, err := billingtest.Account(ctx, c.DB, "Acme")
	require.NoError(t, err)
	inst, err := billingtest.Instance(ctx, c.DB, acc, "forum", "acme-forum.localhost", []string{"search"}, start)
	require.NoError(t, err)
	h.env.RegisterActivity(c.Acts)
	return c, inst
}

// searchSpansOf lists the instance's usage spans in order.
func searchSpansOf(t *testing.T, c *testenv.Control, inst string) []billing.Span {
	t.Helper()
	rows, err := c.DB.Query(context.Background(), `SELECT started_at, ended_at, hourly_rate_minor FROM usage_spans
		WHERE instance_id = $1 ORDER BY started_at`, inst)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (s billing.Span, err error) {
		return s, r.Scan(&s.Start, &s.End, &s.HourlyRateMinor)
	})
	require.NoError(t, err)
	return out
}

func TestPriceChangeSleepsUntilItsInstantThenApplies(t *testing.T) {
	h := newHarness(t)
	effective := start.Add(10 * 24 * time.Hour)
	c, inst := scheduledSearch(t, h, effective)
	in := workflows.PriceChangeInput{Service: "forum", Module: "search", EffectiveAt: effective}
	assert.Equal(t, "price/forum/search/2025-03-11T09:00:00Z", workflows.PriceChangeID(in.Service, in.Module, in.EffectiveAt))
	h.at(effective.Sub(start)-time.Minute, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusWaiting, p.Status)
		assert.Equal(t, map[string]workflows.StepState{"wait": workflows.StepWaiting, "apply": workflows.StepPending}, states(p))
		assert.Equal(t, "Wait until 2025-03-11T09:00:00Z", step(t, p, "wait").Title)
		assert.Len(t, searchSpansOf(t, c, inst), 1, "nothing applied before the instant")
	})
	h.env.ExecuteWorkflow(workflows.PriceChange, in)
	require.NoError(t, h.env.GetWorkflowError())
	var res activities.ScheduledPrice
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, activities.PriceApplied, res.Status)
	assert.Equal(t, effective, res.AppliedAt.UTC(), "woke at the instant")

	spans := searchSpansOf(t, c, inst)
	require.Len(t, spans, 2)
	assert.Equal(t, effective, spans[0].End.UTC(), "split at the instant")
	assert.Equal(t, []int64{2, 10}, []int64{spans[0].HourlyRateMinor, spans[1].HourlyRateMinor})
	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, workflows.StepDone, step(t, p, "apply").State)
}

func TestPriceChangeCancelledCompletesWithoutApplying(t *testing.T) {
	h := newHarness(t)
	effective := start.Add(24 * time.Hour)
	c, inst := scheduledSearch(t, h, effective)
	// Removed from the manifest (and the process restarted) before the instant.
	h.at(time.Hour, func() {
		c.Acts.Catalog, _ = billingtest.Prices("forum", "search", 2)
		require.NoError(t, controldb.SyncPriceSchedule(context.Background(), c.Acts.DB, c.Acts.Catalog))
	})
	h.env.ExecuteWorkflow(workflows.PriceChange, workflows.PriceChangeInput{Service: "forum", Module: "search", EffectiveAt: effective})
	require.NoError(t, h.env.GetWorkflowError())
	var res activities.ScheduledPrice
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, activities.PriceCancelled, res.Status)
	assert.Len(t, searchSpansOf(t, c, inst), 1, "no split")
	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, workflows.StepSkipped, step(t, p, "apply").State)
}

func TestPriceChangeInvalidIsNotRetried(t *testing.T) {
	h := newHarness(t)
	h.failAt(acts.ApplyScheduledPrice, domainErr(apperr.Invalid("forum has no module \"gone\"")))
	h.stub(acts.ApplyScheduledPrice, activities.ScheduledPrice{}, nil)
	h.env.ExecuteWorkflow(workflows.PriceChange, workflows.PriceChangeInput{Service: "forum", Module: "gone", EffectiveAt: start.Add(time.Hour)})
	require.Error(t, h.env.GetWorkflowError())
	assert.Equal(t, names(acts.ApplyScheduledPrice), h.called(), "one attempt, no retry")
	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Contains(t, step(t, p, "apply").Error, `no module "gone"`)
}
