package controldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var ctx = context.Background()

// t0 is when test instances start billing; later instants are t0 plus hours.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(hours int) time.Time { return t0.Add(time.Duration(hours) * time.Hour) }

var march = billing.MonthOf(t0)

// billedInstance is a new account with a forum instance billed from t0.
func billedInstance(t *testing.T, c *testenv.Control, modules ...string) (account, instanceID string) {
	t.Helper()
	acc, err := billingtest.Account(ctx, c.DB, "Acme")
	require.NoError(t, err)
	id, err := billingtest.Instance(ctx, c.DB, acc, "forum", "acme-"+uuid.NewString()[:6]+".localhost", modules, at(0))
	require.NoError(t, err)
	return acc, id
}

// closePeriod closes the account's period as the BillingCycle does.
func closePeriod(t *testing.T, c *testenv.Control, acc string, p billing.Period) controldb.InvoiceSummary {
	t.Helper()
	inv, err := c.Acts.CloseBillingPeriod(ctx, activities.ClosePeriodInput{AccountID: acc, Period: p})
	require.NoError(t, err)
	return inv
}

// count counts rows in the control database: count(t, c, "users WHERE ...").
func count(t *testing.T, c *testenv.Control, from string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, c.DB.QueryRow(ctx, "SELECT count(*) FROM "+from, args...).Scan(&n))
	return n
}

// assertKind checks the domain kind of an error.
func assertKind(t *testing.T, want apperr.Kind, err error) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, want, apperr.KindOf(err), "error: %v", err)
}
