package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/billingtest"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
)

// The developers' catalog page shows each module's price schedule: every
// change with its status and the command to describe its workflow.
func TestDevCatalogShowsPriceSchedule(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	c := s.control
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	cat, err := billingtest.Prices("forum", "search", 2,
		catalog.PriceChange{EffectiveAt: past.Format(time.RFC3339), HourlyPriceMinor: 3},
		catalog.PriceChange{EffectiveAt: "2098-01-01T00:00:00Z", HourlyPriceMinor: 150},
		catalog.PriceChange{EffectiveAt: "2099-01-01T00:00:00Z", HourlyPriceMinor: 9})
	require.NoError(t, err)
	c.Acts.Catalog = cat
	require.NoError(t, controldb.SyncPriceSchedule(ctx, c.Acts.DB, c.Acts.Catalog))
	_, err = c.Acts.ApplyScheduledPrice(ctx, activities.ScheduledPriceInput{Service: "forum", Module: "search", EffectiveAt: past})
	require.NoError(t, err)
	c.Acts.Catalog, err = billingtest.Prices("forum", "search", 2,
		catalog.PriceChange{EffectiveAt: past.Format(time.RFC3339), HourlyPriceMinor: 3},
		catalog.PriceChange{EffectiveAt: "2098-01-01T00:00:00Z", HourlyPriceMinor: 150})
	require.NoError(t, err)
	require.NoError(t, controldb.SyncPriceSchedule(ctx, c.Acts.DB, c.Acts.Catalog))

	email, _ := s.user("developer")
	b := s.browser()
	status, _ := b.login(email, password)
	require.Equal(t, http.StatusSeeOther, status)
	status, _, body := b.do("GET", "/dev/catalog", nil, nil)
	require.Equal(t, http.StatusOK, status)
	body = html.UnescapeString(body)
	assert.Contains(t, body, "Price schedule")
	assert.Contains(t, body, "go tool temporal workflow describe --workflow-id price/forum/search/2098-01-01T00:00:00Z")
	assert.Contains(t, body, "1 Jan 2098 00:00 UTC")
	assert.Contains(t, body, "EUR 1.50/h")
	assert.Contains(t, body, ">scheduled<")
	assert.Contains(t, body, "applied at "+time.Now().UTC().Format(time.DateOnly))
	assert.Contains(t, body, "price/forum/search/"+past.Format(time.RFC3339))
	assert.Contains(t, body, "cancelled at ")
	assert.Contains(t, body, "price/forum/search/2099-01-01T00:00:00Z")

	// The same in the JSON API, for developers only.
	bearer := http.Header{"Authorization": {"Bearer " + apiToken(t, s, email)}}
	status, _, body = b.do("GET", "/api/catalog/prices", nil, bearer)
	require.Equal(t, http.StatusOK, status, body)
	var got struct {
		Prices []struct {
			Module      string    `json:"module"`
			EffectiveAt time.Time `json:"effective_at"`
			Status      string    `json:"status"`
			WorkflowID  string    `json:"workflow_id"`
			Describe    string    `json:"describe"`
		} `json:"prices"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got.Prices, 3)
	assert.Equal(t, []string{"applied", "scheduled", "cancelled"},
		[]string{got.Prices[0].Status, got.Prices[1].Status, got.Prices[2].Status})
	assert.Equal(t, "price/forum/search/2098-01-01T00:00:00Z", got.Prices[1].WorkflowID)
	owner, _ := s.user("owner")
	assert.Equal(t, http.StatusForbidden, bearerStatus(t, s.url, "GET", "/api/catalog/prices", apiToken(t, s, owner)))
}
