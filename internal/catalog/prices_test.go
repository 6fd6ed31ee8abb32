package catalog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/catalog"
)

// searchModule is the valid manifest's search module; scheduled replaces it
// by one with price changes.
const searchModule = `{"name": "search", "hourly_price_minor": 2, "description": "Search."}`

func scheduled(changes string) string {
	return `{"name": "search", "hourly_price_minor": 2, "description": "Search.", "price_changes": [` + changes + `]}`
}

func TestPriceScheduleLoadsAndSaysThePriceInEffect(t *testing.T) {
	cat, err := catalog.Load(wiki(manifest(searchModule, scheduled(
		`{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": 3},
		 {"effective_at": "2027-06-01T12:30:00Z", "hourly_price_minor": 0}`))))
	require.NoError(t, err)
	s, _ := cat.Service("wiki")
	m, _ := s.Module("search")
	require.Len(t, m.PriceChanges, 2)
	jan := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want int64
		from string
	}{
		{jan.Add(-time.Nanosecond), 2, ""},
		{jan, 3, "2027-01-01T00:00:00Z"},
		{time.Date(2027, 6, 1, 12, 29, 59, 0, time.UTC), 3, "2027-01-01T00:00:00Z"},
		{time.Date(2027, 6, 1, 12, 30, 0, 0, time.UTC), 0, "2027-06-01T12:30:00Z"},
		{time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), 0, "2027-06-01T12:30:00Z"},
	} {
		price, from := m.PriceAt(tc.at)
		assert.Equal(t, tc.want, price, "at %s", tc.at)
		if tc.from == "" {
			assert.Nil(t, from, "at %s", tc.at)
		} else if assert.NotNil(t, from, "at %s", tc.at) {
			assert.Equal(t, tc.from, from.EffectiveAt)
		}
	}
	assert.Equal(t, jan, m.PriceChanges[0].Effective())
}

func TestPriceScheduleRejectsMalformedChanges(t *testing.T) {
	for _, tc := range []struct{ name, changes, want string }{
		{"not an instant", `{"effective_at": "1 Jan 2027", "hourly_price_minor": 3}`, "RFC 3339"},
		{"date only", `{"effective_at": "2027-01-01", "hourly_price_minor": 3}`, "RFC 3339"},
		{"not UTC", `{"effective_at": "2027-01-01T00:00:00+01:00", "hourly_price_minor": 3}`, "UTC"},
		{"fractional seconds", `{"effective_at": "2027-01-01T00:00:00.5Z", "hourly_price_minor": 3}`, "RFC 3339"},
		{"not increasing", `{"effective_at": "2027-02-01T00:00:00Z", "hourly_price_minor": 3},
			{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": 4}`, "must be after"},
		{"same instant twice", `{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": 3},
			{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": 4}`, "must be after"},
		{"negative price", `{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": -1}`, "negative"},
		{"unknown field", `{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": 3, "currency": "USD"}`, "unknown field"},
		{"price as a string", `{"effective_at": "2027-01-01T00:00:00Z", "hourly_price_minor": "3"}`, "manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Load(wiki(manifest(searchModule, scheduled(tc.changes))))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
