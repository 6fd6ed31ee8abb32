package billing_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/billing"
)

func TestProjectionBillsTimeAfterAScheduledChangeAtItsPrice(t *testing.T) {
	nov := billing.MonthOf(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	at := func(day int) time.Time { return time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC) }
	ended, a19, a17 := at(10), at(19), at(17)
	spans := []billing.Span{
		{ID: 1, Service: "forum", Module: "search", Start: at(1), HourlyRateMinor: 2, Currency: "EUR"},
		{ID: 2, Service: "forum", Module: "core", Start: at(1), HourlyRateMinor: 4, Currency: "EUR"},
		{ID: 3, Service: "forum", Module: "search", Start: at(1), End: &ended, HourlyRateMinor: 2, Currency: "EUR"},
		// Opened after a change its workflow had not applied yet, and one
		// that ran across it: billed as the late apply will split them.
		{ID: 4, Service: "forum", Module: "search", Start: at(18), End: &a19, HourlyRateMinor: 2, Currency: "EUR"},
		{ID: 5, Service: "forum", Module: "search", Start: at(14), End: &a17, HourlyRateMinor: 2, Currency: "EUR"},
	}
	changes := []billing.PriceChange{
		{Service: "forum", Module: "search", At: at(21), HourlyRateMinor: 5, Currency: "EUR"},
		{Service: "forum", Module: "search", At: at(16), HourlyRateMinor: 3, Currency: "EUR"},
		{Service: "store", Module: "search", At: at(2), HourlyRateMinor: 9, Currency: "EUR"},
	}
	got := billing.WithPriceChanges(spans, changes)
	require.Len(t, got, 8)
	inv, err := billing.Compute(nov, got, nil, nil)
	require.NoError(t, err)
	// search: 15 days at 2, 5 at 3, 10 at 5; core untouched; the span
	// closed before the changes keeps its rate; 1 day at 3; 2 days at 2
	// and 1 at 3.
	want := int64(15*24*2 + 5*24*3 + 10*24*5 + 30*24*4 + 9*24*2 + 24*3 + 2*24*2 + 24*3)
	assert.Equal(t, want, inv.TotalMinor)
	assert.Equal(t, int64(2), spans[0].HourlyRateMinor, "the spans passed in are not changed")
}
