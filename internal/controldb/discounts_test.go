package controldb_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

func createDiscount(c *testenv.Control, in controldb.DiscountInput) error {
	return controldb.CreateDiscount(ctx, c.DB, c.Catalog, in, t0)
}

func TestCreateDiscount(t *testing.T) {
	c := testenv.NewControl(t)
	acc, _ := billedInstance(t, c, "core", "search")
	from := t0
	ok := controldb.DiscountInput{ID: uuid.NewString(), AccountID: acc, Name: "launch", Reason: "early customer",
		PercentBP: 5000, Service: "forum", Module: "search", Periods: 1, ValidFrom: &from}
	require.NoError(t, createDiscount(c, ok))
	require.NoError(t, createDiscount(c, ok)) // a retry
	assert.Equal(t, 1, count(t, c, `discounts WHERE account_id = $1`, acc))
	inv := closePeriod(t, c, acc, march)
	assert.Equal(t, int64(732), inv.DiscountMinor, "half of search: 732 h × 2 / 2")

	for _, bad := range []controldb.DiscountInput{
		{AccountID: acc, Name: "x"},                                   // neither kind
		{AccountID: acc, Name: "x", PercentBP: 100, AmountMinor: 5},   // both kinds
		{AccountID: acc, Name: "x", PercentBP: 10001},                 // over 100 %
		{AccountID: acc, Name: "", PercentBP: 100},                    // no name
		{AccountID: acc, Name: "x", PercentBP: 100, Module: "search"}, // module without service
		{AccountID: acc, Name: "x", PercentBP: 100, Service: "wiki"},  // no such service
		{AccountID: acc, Name: "x", PercentBP: 100, Service: "forum", Module: "chat"},
		{AccountID: "nope", Name: "x", PercentBP: 100},
	} {
		assertKind(t, apperr.KindInvalid, createDiscount(c, bad))
	}
	assertKind(t, apperr.KindNotFound, createDiscount(c, controldb.DiscountInput{AccountID: uuid.NewString(), Name: "x", PercentBP: 1}))
	assert.Equal(t, 1, count(t, c, `discounts`))
}
