package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
)

// PriceChangeInput sets a module's hourly price from an instant on.
type PriceChangeInput struct {
	Service          string
	Module           string
	HourlyPriceMinor int64
	At               time.Time
}

// ApplyPriceChange records the new price and, in the same transaction,
// splits the module's spans at At so time before At stays billed at the old
// rate (see applyPriceChange). At may not lie in the future (a span cannot
// be closed ahead of time). A retry finds the price recorded and changes
// nothing.
func (a *Activities) ApplyPriceChange(ctx context.Context, in PriceChangeInput) error {
	if in.HourlyPriceMinor < 0 {
		return apperr.ForTemporal(apperr.Invalid("a price cannot be negative"))
	}
	if in.At.After(a.Clock()) {
		return apperr.ForTemporal(apperr.Invalid("a price change takes effect now or in the past, not at %s", in.At))
	}
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error { return applyPriceChange(ctx, tx, in) }))
}

// applyPriceChange records in.HourlyPriceMinor as the module's price from
// in.At until the next recorded change (if one was applied already: a
// scheduled change applied late, after a later one) and re-rates the spans
// of that window: spans started in it take the new rate, and every span
// that runs across At, open or already closed, is cut at At and continued
// from At at the new rate. It holds the module's row lock, so concurrent
// changes of one module run one after the other. A change already recorded
// at At changes nothing.
func applyPriceChange(ctx context.Context, tx pgx.Tx, in PriceChangeInput) error {
	var currency string
	err := tx.QueryRow(ctx, `SELECT currency FROM modules WHERE service = $1 AND name = $2 FOR UPDATE`,
		in.Service, in.Module).Scan(&currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("%s has no module %q", in.Service, in.Module)
	}
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO module_prices (service, module, effective_at, hourly_price_minor, currency)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, in.Service, in.Module, in.At, in.HourlyPriceMinor, currency)
	if err != nil || tag.RowsAffected() == 0 {
		return err // 0 rows: a retry
	}
	var next *time.Time
	if err := tx.QueryRow(ctx, `SELECT min(effective_at) FROM module_prices WHERE service = $1 AND module = $2 AND effective_at > $3`,
		in.Service, in.Module, in.At).Scan(&next); err != nil {
		return err
	}
	if next == nil { // the latest change: it is the price from now on
		if _, err := tx.Exec(ctx, `UPDATE modules SET hourly_price_minor = $3 WHERE service = $1 AND name = $2`,
			in.Service, in.Module, in.HourlyPriceMinor); err != nil {
			return err
		}
	}
	// Spans opened at or after At (and before the next change) run at the new price.
	if _, err := tx.Exec(ctx, `
		UPDATE usage_spans s SET hourly_rate_minor = $3 FROM instances i
		WHERE i.id = s.instance_id AND i.service = $1 AND s.module = $2 AND s.started_at >= $4
			AND ($5::timestamptz IS NULL OR s.started_at < $5)`,
		in.Service, in.Module, in.HourlyPriceMinor, in.At, next); err != nil {
		return err
	}
	// Two statements, not one: the closed part must end before its
	// continuation exists (one open span per instance and module).
	rows, err := tx.Query(ctx, `
		SELECT s.id, s.instance_id::text, s.ended_at FROM usage_spans s JOIN instances i ON i.id = s.instance_id
		WHERE i.service = $1 AND s.module = $2 AND s.started_at < $3 AND (s.ended_at IS NULL OR s.ended_at > $3)
		FOR UPDATE OF s`, in.Service, in.Module, in.At)
	if err != nil {
		return err
	}
	type cut struct {
		ID         int64
		InstanceID string
		EndedAt    *time.Time
	}
	cuts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cut])
	if err != nil || len(cuts) == 0 {
		return err
	}
	ids, instances, ends := make([]int64, len(cuts)), make([]string, len(cuts)), make([]*time.Time, len(cuts))
	for i, c := range cuts {
		ids[i], instances[i], ends[i] = c.ID, c.InstanceID, c.EndedAt
	}
	if _, err := tx.Exec(ctx, `UPDATE usage_spans SET ended_at = $2 WHERE id = ANY($1)`, ids, in.At); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO usage_spans (instance_id, module, started_at, ended_at, hourly_rate_minor, currency)
		SELECT u.instance_id, $3, $4, u.ended_at, $5, $6 FROM unnest($1::uuid[], $2::timestamptz[]) AS u(instance_id, ended_at)`,
		instances, ends, in.Module, in.At, in.HourlyPriceMinor, currency)
	return err
}
