package controldb

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/billing"
)

// UnbilledPeriods is, per account (only accountID's when it is not empty),
// the first period its billing cycle has yet to close: the one after its
// latest invoice, or the one that holds the account's creation. A cycle
// started there closes every period it missed in turn, so an account whose
// cycle was terminated, or never started, loses no period.
func UnbilledPeriods(ctx context.Context, q Querier, accountID string, length time.Duration) (map[string]billing.Period, error) {
	var only *string
	if accountID != "" {
		only = &accountID
	}
	rows, err := q.Query(ctx, `
		SELECT a.id::text, a.created_at, max(i.period_end)
		FROM accounts a LEFT JOIN invoices i ON i.account_id = a.id
		WHERE $1::uuid IS NULL OR a.id = $1::uuid
		GROUP BY a.id`, only)
	if err != nil {
		return nil, err
	}
	out := map[string]billing.Period{}
	var (
		id      string
		created time.Time
		lastEnd *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &created, &lastEnd}, func() error {
		if lastEnd != nil {
			out[id] = billing.PeriodFrom(*lastEnd, length)
		} else {
			out[id] = billing.PeriodOf(created, length)
		}
		return nil
	})
	return out, err
}
