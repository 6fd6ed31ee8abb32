package servicejobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The store's jobs (schemas/services/store/manifest.json).
var store = []Impl{
	{Service: "store", Job: "summarise_orders", From: 1, To: 1, Run: summariseOrders(false)},
	// Schema 2 (1.1.0) adds reviews: the summary rates the products too.
	{Service: "store", Job: "summarise_orders", From: 2, Run: summariseOrders(true)},
}

// summariseOrders writes the orders per status and the revenue of paid and
// shipped orders (and, from schema 2, the reviews and their average stars)
// into tenant_settings.order_summary.
func summariseOrders(reviews bool) Run {
	reviewCols := `0::bigint AS reviews, 0::bigint AS stars_x100`
	if reviews {
		reviewCols = `(SELECT count(*) FROM reviews) AS reviews,
			(SELECT coalesce(round(avg(stars) * 100), 0)::bigint FROM reviews) AS stars_x100`
	}
	return func(ctx context.Context, db *pgx.Conn) (Result, error) {
		var orders, revenue, nReviews, stars int64
		err := db.QueryRow(ctx, `
			WITH s AS (
				SELECT (SELECT count(*) FROM orders) AS orders,
					(SELECT coalesce(sum(total_minor), 0) FROM orders WHERE status IN ('paid', 'shipped'))::bigint AS revenue,
					(SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
						FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) x) AS by_status,
					`+reviewCols+`),
			w AS (
				INSERT INTO tenant_settings (key, value)
				SELECT 'order_summary', jsonb_build_object('orders', orders, 'revenue_minor', revenue, 'by_status', by_status,
					'reviews', reviews, 'average_stars_x100', stars_x100) FROM s
				ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value)
			SELECT orders, revenue, reviews, stars_x100 FROM s`).Scan(&orders, &revenue, &nReviews, &stars)
		if err != nil {
			return Result{}, err
		}
		r := Result{Counts: map[string]int64{"orders": orders, "revenue_minor": revenue},
			Summary: fmt.Sprintf("summarised %d orders, %d in revenue (minor units)", orders, revenue)}
		if reviews {
			r.Counts["reviews"], r.Counts["average_stars_x100"] = nReviews, stars
			r.Summary += fmt.Sprintf(", %d reviews", nReviews)
		}
		return r, nil
	}
}
