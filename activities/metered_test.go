package activities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// The requests the host routers counted in the period are billed beyond the
// service's included quota; windows outside the period are not.
func TestMeteredRequestsAreBilledBeyondTheQuota(t *testing.T) {
	c := testenv.NewControl(t)
	acc, inst := billedInstance(t, c, "core")
	for _, row := range []struct {
		router string
		hours  int
		count  int64
	}{
		{"router-a", 1, 200_000},
		{"router-b", 2, 50_000},
		{"router-a", 24 * 40, 999_999}, // April: another period
	} {
		_, err := c.DB.Exec(ctx, `INSERT INTO usage_counts (router_id, window_start, window_end, instance_id, metric, count)
			VALUES ($1, $2::timestamptz, $2::timestamptz + interval '5 seconds', $3, 'requests', $4)`, row.router, at(row.hours), inst, row.count)
		require.NoError(t, err)
	}

	inv := closePeriod(t, c, acc, march)
	lines, err := controldb.InvoiceLines(ctx, c.DB, inv.ID)
	require.NoError(t, err)
	var metered []billing.Line
	for _, l := range lines {
		if l.Kind == billing.KindMetered {
			metered = append(metered, l)
		}
	}
	require.Len(t, metered, 1)
	// forum includes 100,000 requests, then 0.05 per thousand:
	// 150,000 billable → 150 × 5 = 750 minor units.
	assert.Equal(t, int64(250_000), metered[0].Quantity)
	assert.Equal(t, int64(750), metered[0].AmountMinor)
	assert.Contains(t, metered[0].Explanation, "250000 requests, 100000 included")
	assert.Equal(t, int64(2928+750), inv.TotalMinor, "core 4/h × 732 h, plus the requests")
}
