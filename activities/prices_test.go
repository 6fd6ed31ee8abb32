package activities_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billingtest"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// change is a scheduled change of a test manifest at t0 plus hours.
func change(hours int, price int64) catalog.PriceChange {
	return catalog.PriceChange{EffectiveAt: at(hours).Format(time.RFC3339), HourlyPriceMinor: price}
}

// searchPrices makes the test's manifest give forum's search module base
// (2 in the shipped manifest) and changes, and syncs its schedule.
func searchPrices(t *testing.T, c *testenv.Control, base int64, changes ...catalog.PriceChange) {
	t.Helper()
	cat, err := billingtest.Prices("forum", "search", base, changes...)
	require.NoError(t, err)
	c.Acts.Catalog = cat
	require.NoError(t, controldb.SyncPriceSchedule(ctx, c.Acts.DB, c.Acts.Catalog))
}

// schedule lists the search module's schedule as "instant price status".
func schedule(t *testing.T, c *testenv.Control) map[time.Time]activities.ScheduledPrice {
	t.Helper()
	all, err := controldb.PriceSchedule(ctx, c.DB, false)
	require.NoError(t, err)
	out := map[time.Time]activities.ScheduledPrice{}
	for _, p := range all {
		out[p.EffectiveAt] = p
	}
	return out
}

func applySearch(t *testing.T, c *testenv.Control, hours int) activities.ScheduledPrice {
	t.Helper()
	p, err := c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum", Module: "search", EffectiveAt: at(hours)})
	require.NoError(t, err)
	return p
}

func searchPrice(t *testing.T, c *testenv.Control) int64 {
	t.Helper()
	var p int64
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT hourly_price_minor FROM modules WHERE service = 'forum' AND name = 'search'`).Scan(&p))
	return p
}

func end(hours int) *time.Time { e := at(hours); return &e }

func TestSyncPriceScheduleAddsEditsAndCancels(t *testing.T) {
	c := testenv.NewControl(t)
	searchPrices(t, c, 2, change(100, 5), change(200, 7))
	s := schedule(t, c)
	require.Len(t, s, 2)
	assert.Equal(t, activities.ScheduledPrice{Service: "forum", Module: "search", EffectiveAt: at(100), HourlyPriceMinor: 5,
		Currency: "EUR", Status: activities.PriceScheduled}, s[at(100)])
	assert.Equal(t, int64(7), s[at(200)].HourlyPriceMinor)

	// Edited before its instant, removed, added.
	searchPrices(t, c, 2, change(100, 6), change(300, 8))
	s = schedule(t, c)
	require.Len(t, s, 3)
	assert.Equal(t, int64(6), s[at(100)].HourlyPriceMinor)
	assert.Equal(t, activities.PriceScheduled, s[at(100)].Status)
	assert.Equal(t, activities.PriceCancelled, s[at(200)].Status)
	assert.NotNil(t, s[at(200)].CancelledAt)
	assert.Equal(t, activities.PriceScheduled, s[at(300)].Status)
	pending, err := controldb.PriceSchedule(ctx, c.DB, true)
	require.NoError(t, err)
	assert.Len(t, pending, 2)

	// The edited price is the one that applies.
	c.Acts.Clock = func() time.Time { return at(150) }
	assert.Equal(t, int64(6), applySearch(t, c, 100).HourlyPriceMinor)
	assert.Equal(t, int64(6), searchPrice(t, c))

	// Back in the manifest: scheduled again. An applied change is history:
	// neither an edit nor its removal touches it.
	searchPrices(t, c, 2, change(200, 7), change(300, 8))
	s = schedule(t, c)
	assert.Equal(t, activities.PriceScheduled, s[at(200)].Status)
	assert.Nil(t, s[at(200)].CancelledAt)
	assert.Equal(t, activities.PriceApplied, s[at(100)].Status)
	assert.Equal(t, int64(6), s[at(100)].HourlyPriceMinor)
	searchPrices(t, c, 2, change(100, 9), change(200, 7), change(300, 8))
	assert.Equal(t, int64(6), schedule(t, c)[at(100)].HourlyPriceMinor)
}

func TestScheduledPriceAppliesAtItsInstantOnce(t *testing.T) {
	c := testenv.NewControl(t)
	acc, inst := billedInstance(t, c, "core", "search")
	searchPrices(t, c, 2, change(100, 10))
	c.Acts.Clock = func() time.Time { return at(100).Add(3 * time.Second) }
	first := applySearch(t, c, 100)
	assert.Equal(t, activities.PriceApplied, first.Status)
	assert.Equal(t, at(100).Add(3*time.Second), *first.AppliedAt)
	c.Acts.Clock = func() time.Time { return at(101) }
	assert.Equal(t, first, applySearch(t, c, 100), "a second run returns the first and changes nothing")

	assert.Equal(t, []span{
		{Module: "core", Started: at(0), Rate: 4},
		{Module: "search", Started: at(0), Ended: end(100), Rate: 2},
		{Module: "search", Started: at(100), Rate: 10},
	}, spans(t, c, inst))
	assert.Equal(t, 1, count(t, c, `module_prices WHERE module = 'search'`))
	assert.Equal(t, int64(10), searchPrice(t, c))
	// core 732 h × 4 + search 100 h × 2 + 632 h × 10.
	assert.Equal(t, int64(2928+200+6320), closePeriod(t, c, acc, march).TotalMinor)
}

func TestLateScheduledPriceStillSplitsAtItsInstant(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "core", "search")
	searchPrices(t, c, 2, change(100, 10))
	// While the worker was down: search removed at 300 h, added again at
	// 400 h at the old price.
	require.NoError(t, billingtest.Close(ctx, c.DB, inst, []string{"search"}, at(300)))
	require.NoError(t, billingtest.Open(ctx, c.DB, inst, "forum", []string{"search"}, at(400)))
	c.Acts.Clock = func() time.Time { return at(500) }
	assert.Equal(t, activities.PriceApplied, applySearch(t, c, 100).Status)
	assert.Equal(t, []span{
		{Module: "core", Started: at(0), Rate: 4},
		{Module: "search", Started: at(0), Ended: end(100), Rate: 2},
		{Module: "search", Started: at(100), Ended: end(300), Rate: 10},
		{Module: "search", Started: at(400), Rate: 10},
	}, spans(t, c, inst))
}

func TestScheduledPricesAppliedOutOfOrderKeepEachWindow(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "search")
	searchPrices(t, c, 2, change(100, 10), change(200, 20))
	c.Acts.Clock = func() time.Time { return at(300) }
	applySearch(t, c, 200)
	applySearch(t, c, 100)
	assert.Equal(t, []span{
		{Module: "search", Started: at(0), Ended: end(100), Rate: 2},
		{Module: "search", Started: at(100), Ended: end(200), Rate: 10},
		{Module: "search", Started: at(200), Rate: 20},
	}, spans(t, c, inst))
	assert.Equal(t, int64(20), searchPrice(t, c), "the latest change stays the price")
}

func TestScheduledPriceCancelledOrNotDue(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "search")
	searchPrices(t, c, 2, change(100, 10))
	searchPrices(t, c, 2)
	c.Acts.Clock = func() time.Time { return at(200) }
	assert.Equal(t, activities.PriceCancelled, applySearch(t, c, 100).Status)
	assert.Len(t, spans(t, c, inst), 1)
	assert.Equal(t, 0, count(t, c, `module_prices WHERE module = 'search'`))

	searchPrices(t, c, 2, change(300, 10))
	_, err := c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum", Module: "search", EffectiveAt: at(300)})
	require.Error(t, err)
	assert.Equal(t, apperr.KindInternal, apperr.KindOf(err), "not due yet is retried, not final: %v", err)
	_, err = c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum", Module: "search", EffectiveAt: at(150)})
	assertKind(t, apperr.KindNotFound, err)
	_, err = c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum"})
	assertKind(t, apperr.KindInvalid, err)
}

func TestPendingScheduledPriceIsNoBaseEdit(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "search")
	searchPrices(t, c, 2, change(100, 10))
	c.Acts.Clock = func() time.Time { return at(150) }
	// The manifest's price now is 10, but its change is the workflow's to
	// apply at 100 h, not a base edit to apply at 150 h.
	require.NoError(t, controldb.ApplyCatalogPrices(ctx, c.Acts.DB, c.Acts.Catalog, c.Acts.Clock()))
	assert.Equal(t, 0, count(t, c, `module_prices WHERE module = 'search'`))
	applySearch(t, c, 100)
	// Once applied, the schedule's price is the price: nothing to revert.
	require.NoError(t, controldb.ApplyCatalogPrices(ctx, c.Acts.DB, c.Acts.Catalog, c.Acts.Clock()))
	assert.Equal(t, 1, count(t, c, `module_prices WHERE module = 'search'`))
	assert.Equal(t, int64(10), searchPrice(t, c))

	// A base edit with the change still ahead applies now.
	searchPrices(t, c, 3, change(200, 10))
	require.NoError(t, controldb.ApplyCatalogPrices(ctx, c.Acts.DB, c.Acts.Catalog, c.Acts.Clock()))
	assert.Equal(t, int64(3), searchPrice(t, c))
	assert.Len(t, spans(t, c, inst), 3)
}

func TestConcurrentBasePriceEditsRecordOneChange(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "search")
	searchPrices(t, c, 5)
	// Each process starts at its own instant.
	var tick atomic.Int64
	c.Acts.Clock = func() time.Time { return at(100).Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			assert.NoError(t, controldb.ApplyCatalogPrices(ctx, c.Acts.DB, c.Acts.Catalog, c.Acts.Clock()))
		})
	}
	wg.Wait()
	assert.Equal(t, 1, count(t, c, `module_prices WHERE module = 'search'`))
	ss := spans(t, c, inst)
	require.Len(t, ss, 2)
	assert.Equal(t, int64(5), ss[1].Rate)
}
