package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/billingtest"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// A scheduled price change on the real dev server: its workflow, started
// twice, runs once, sleeps on a durable timer until the instant and splits
// the module's spans exactly there.
func TestScheduledPriceChangeOnTheDevServer(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := context.Background()
	acc, err := billingtest.Account(ctx, s.DB, "Acme")
	require.NoError(t, err)
	inst, err := billingtest.Instance(ctx, s.DB, acc, "forum", "prices.localhost", []string{"search"}, time.Now().Add(-time.Hour))
	require.NoError(t, err)

	effective := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
	cat, err := billingtest.Prices("forum", "search", 2, catalog.PriceChange{EffectiveAt: effective.Format(time.RFC3339), HourlyPriceMinor: 7})
	require.NoError(t, err)
	edited := *s.Acts // the activities of a process started with the edited manifest
	edited.Catalog = cat
	require.NoError(t, controldb.SyncPriceSchedule(ctx, edited.DB, edited.Catalog))

	in := workflows.PriceChangeInput{Service: "forum", Module: "search", EffectiveAt: effective}
	first, err := workflows.StartPriceChange(ctx, s.Temporal, in)
	require.NoError(t, err)
	second, err := workflows.StartPriceChange(ctx, s.Temporal, in)
	require.NoError(t, err)
	assert.Equal(t, first.GetRunID(), second.GetRunID(), "a running change is left alone")
	assert.Equal(t, "price/forum/search/"+effective.Format(time.RFC3339), first.GetID())

	var res activities.ScheduledPrice
	require.NoError(t, first.Get(ctx, &res))
	assert.Equal(t, activities.PriceApplied, res.Status)
	assert.False(t, res.AppliedAt.Before(effective), "applied at %s, before its instant %s", res.AppliedAt, effective)

	var cut time.Time
	var rate int64
	require.NoError(t, s.DB.QueryRow(ctx, `SELECT started_at, hourly_rate_minor FROM usage_spans
		WHERE instance_id = $1 AND module = 'search' AND ended_at IS NULL`, inst).Scan(&cut, &rate))
	assert.Equal(t, effective, cut.UTC(), "split at the instant, not when the worker ran")
	assert.Equal(t, int64(7), rate)

	d, err := s.Temporal.DescribeWorkflowExecution(ctx, first.GetID(), "")
	require.NoError(t, err)
	assert.Contains(t, d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields(), "ServiceName")
	pending, err := controldb.PriceSchedule(ctx, s.DB, true)
	require.NoError(t, err)
	assert.Empty(t, pending, "start-up starts nothing more for an applied change")
	recordHistories(t, s, map[string]string{"price_change": first.GetID()})
}
