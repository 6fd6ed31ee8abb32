package controldb_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

func TestUnbilledPeriodsResumeAfterTheLatestInvoice(t *testing.T) {
	c := testenv.NewControl(t)
	fresh, _ := billedInstance(t, c, "core")
	billed, _ := billedInstance(t, c, "core")
	_, err := c.DB.Exec(ctx, `UPDATE accounts SET created_at = $2 WHERE id = ANY($1)`, []string{fresh, billed}, at(30))
	require.NoError(t, err)
	closePeriod(t, c, billed, march)
	closePeriod(t, c, billed, march.Next(0))

	all, err := controldb.UnbilledPeriods(ctx, c.DB, "", 0)
	require.NoError(t, err)
	// Never invoiced: the month the account was created in.
	assert.Equal(t, march, all[fresh])
	// Invoiced for March and April: May, so no month is skipped.
	may := billing.Period{Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	assert.Equal(t, may, all[billed])

	one, err := controldb.UnbilledPeriods(ctx, c.DB, billed, 0)
	require.NoError(t, err)
	assert.Equal(t, map[string]billing.Period{billed: may}, one)

	// A period length changed since the last invoice: the next period
	// starts where the invoice ended and ends on the new boundary.
	hourly, err := controldb.UnbilledPeriods(ctx, c.DB, billed, 7*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, may.Start, hourly[billed].Start)
	assert.Equal(t, billing.PeriodOf(may.Start, 7*time.Hour).End, hourly[billed].End)
}
