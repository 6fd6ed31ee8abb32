package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// runPeriod runs one period of a cycle with the real close activity on a
// real control database, skipping time; events run at offsets into the
// run on the workflow clock. It returns the continue-as-new input.
func runPeriod(t *testing.T, acts *activities.Activities, in workflows.BillingCycleInput, begin time.Time,
	events map[time.Duration]func(now time.Time)) workflows.BillingCycleInput {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(begin)
	workflows.Register(env)
	env.RegisterActivity(acts)
	for d, fn := range events {
		env.RegisterDelayedCallback(func() { fn(env.Now().UTC()) }, d)
	}
	// Halfway through, the progress query names the period and its close.
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.ProgressQuery)
		require.NoError(t, err)
		var p workflows.BillingProgress
		require.NoError(t, v.Get(&p))
		assert.Equal(t, in.Period, p.Period)
		assert.Equal(t, in.Period.End, p.NextClose)
		assert.Equal(t, workflows.StatusWaiting, p.Status)
		assert.Equal(t, in.LastInvoice, p.LastInvoice)
	}, in.Period.End.Sub(begin)/2)
	env.ExecuteWorkflow(workflows.BillingCycle, in)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next workflows.BillingCycleInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

// TestBillingCycleOverMonths runs three calendar months: a module added and
// another removed mid-March, a price change mid-April, the instance
// disabled mid-May, and a half-off discount for two periods that runs out.
func TestBillingCycleOverMonths(t *testing.T) {
	ctx := context.Background()
	c := testenv.NewControl(t)
	c.Acts.Clock = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	acc, err := billingtest.Account(ctx, c.DB, "Acme")
	require.NoError(t, err)
	begin := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	inst, err := billingtest.Instance(ctx, c.DB, acc, "forum", "acme-forum.localhost", []string{"core", "search"}, begin)
	require.NoError(t, err)
	_, err = c.DB.Exec(ctx, `INSERT INTO discounts (id, account_id, name, kind, percent_bp, periods, valid_from)
		VALUES ($1, $2, 'welcome', 'percent', 5000, 2, $3)`, uuid.NewString(), acc, begin)
	require.NoError(t, err)
	day := 24 * time.Hour

	in := workflows.BillingCycleInput{AccountID: acc, Period: billing.MonthOf(begin)}
	march := runPeriod(t, c.Acts, in, begin, map[time.Duration]func(time.Time){
		9*day + 15*time.Hour: func(now time.Time) { // 11 Mar 00:00
			require.NoError(t, billingtest.Open(ctx, c.DB, inst, "forum", []string{"moderation"}, now))
		},
		19*day + 15*time.Hour: func(now time.Time) { // 21 Mar 00:00
			require.NoError(t, billingtest.Close(ctx, c.DB, inst, []string{"search"}, now))
		},
	})
	// From 15 Apr core costs 6 instead of 4 per hour, scheduled in the
	// manifest; its PriceChange applies it a little late, at 15 Apr 06:00.
	priceChange := time.Date(2025, 4, 15, 0, 0, 0, 0, time.UTC)
	c.Acts.Catalog, err = billingtest.Prices("forum", "core", 4, catalog.PriceChange{EffectiveAt: "2025-04-15T00:00:00Z", HourlyPriceMinor: 6})
	require.NoError(t, err)
	require.NoError(t, controldb.SyncPriceSchedule(ctx, c.Acts.DB, c.Acts.Catalog))
	april := runPeriod(t, c.Acts, march, march.Period.Start, map[time.Duration]func(time.Time){
		14*day + 6*time.Hour: func(time.Time) {
			_, err := c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum", Module: "core", EffectiveAt: priceChange})
			require.NoError(t, err)
		},
	})
	lines, err := controldb.InvoiceLines(ctx, c.DB, april.LastInvoice.ID)
	require.NoError(t, err)
	var core []string
	for _, l := range lines {
		if l.Module == "core" {
			core = append(core, fmt.Sprintf("%s → %s at %d", l.From.Format(time.RFC3339), l.To.Format(time.RFC3339), l.RateMinor))
		}
	}
	assert.Equal(t, []string{
		"2025-04-01T00:00:00Z → 2025-04-15T00:00:00Z at 4",
		"2025-04-15T00:00:00Z → 2025-05-01T00:00:00Z at 6",
	}, core, "two lines at the two rates, split at the change's instant")
	may := runPeriod(t, c.Acts, april, april.Period.Start, map[time.Duration]func(time.Time){
		9 * day: func(now time.Time) { // 10 May
			require.NoError(t, c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: inst, At: now, DeleteAfter: now.Add(day)}))
		},
	})

	// March: core 4 × 735 h, search 2 × 471 h (to 21 Mar), moderation 1 × 504 h; half off.
	marchGross := int64(4*735 + 2*471 + 1*504)
	// April: core 4 × 336 h + 6 × 384 h, moderation 1 × 720 h; half off (period 2 of 2).
	aprilGross := int64(4*336 + 6*384 + 720)
	// May: core 6 × 216 h, moderation 1 × 216 h; the discount ran out.
	mayGross := int64(6*216 + 216)

	assert.Equal(t, 1, march.PeriodsClosed)
	assert.Equal(t, billing.Period{Start: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)}, march.Period)
	assert.Equal(t, marchGross-marchGross/2, march.LastInvoice.TotalMinor)
	assert.Equal(t, aprilGross-aprilGross/2, april.LastInvoice.TotalMinor)
	assert.Equal(t, mayGross, may.LastInvoice.TotalMinor)
	assert.Equal(t, 3, may.PeriodsClosed)
	assert.Equal(t, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), may.Period.Start)

	var n int
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE account_id = $1`, acc).Scan(&n))
	assert.Equal(t, 3, n)
}

// TestBillingCycleRetriesAFailedClose: a close that fails waits, tells how
// to retry, and closes the same period when signalled.
func TestBillingCycleRetriesAFailedClose(t *testing.T) {
	h := newHarness(t)
	p := billing.MonthOf(start)
	fails := 1
	inv := activities.InvoiceSummary{ID: "inv1", AccountID: accountID, Period: p, Currency: "EUR", TotalMinor: 42}
	h.env.OnActivity(acts.CloseBillingPeriod, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClosePeriodInput) (activities.InvoiceSummary, error) {
			h.record("CloseBillingPeriod", in)
			if fails > 0 {
				fails--
				return activities.InvoiceSummary{}, apperr.ForTemporal(apperr.Invalid("an invoice holds one currency"))
			}
			return inv, nil
		})
	h.env.RegisterDelayedCallback(func() {
		p := billingProgress(t, h)
		assert.Equal(t, workflows.StatusFailed, p.Status)
		assert.Contains(t, p.Error, "one currency")
		assert.Contains(t, p.Retry, "--name retry-close")
		h.env.SignalWorkflow(workflows.RetryCloseSignal, nil)
	}, p.End.Sub(start)+time.Minute)
	h.env.ExecuteWorkflow(workflows.BillingCycle, workflows.BillingCycleInput{AccountID: accountID, Period: p})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can))
	assert.Len(t, h.called(), 2)
	for _, c := range h.calls {
		assert.Equal(t, p, c.in.(activities.ClosePeriodInput).Period, "the same period is retried, never skipped")
	}
	var next workflows.BillingCycleInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, &inv, next.LastInvoice)
	assert.Less(t, h.env.Now().Sub(p.End), time.Hour, "the signal retried at once, not after the hourly timer")
}

// TestBillingCycleIgnoresARetryBeforeAFailure: a retry asked for while the
// cycle waited (nothing had failed) does not cut short the wait after a
// later failure.
func TestBillingCycleIgnoresARetryBeforeAFailure(t *testing.T) {
	h := newHarness(t)
	p := billing.MonthOf(start)
	fails := 1
	h.env.OnActivity(acts.CloseBillingPeriod, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClosePeriodInput) (activities.InvoiceSummary, error) {
			h.record("CloseBillingPeriod", in)
			if fails > 0 {
				fails--
				return activities.InvoiceSummary{}, apperr.ForTemporal(apperr.Invalid("an invoice holds one currency"))
			}
			return activities.InvoiceSummary{ID: "inv1", AccountID: accountID, Period: p}, nil
		})
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.RetryCloseSignal, nil) }, time.Hour)
	h.env.ExecuteWorkflow(workflows.BillingCycle, workflows.BillingCycleInput{AccountID: accountID, Period: p})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can))
	assert.Len(t, h.called(), 2)
	assert.GreaterOrEqual(t, h.env.Now().Sub(p.End), time.Hour, "the second attempt waited for the hourly timer")
}

func billingProgress(t *testing.T, h *harness) workflows.BillingProgress {
	v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.BillingProgress
	require.NoError(t, v.Get(&p))
	return p
}
