package controldb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
)

// Statuses of a scheduled price change (price_schedule.status).
const (
	PriceScheduled = "scheduled"
	PriceApplied   = "applied"
	PriceCancelled = "cancelled"
)

// ScheduledPrice is one row of the price schedule.
type ScheduledPrice struct {
	Service          string     `json:"service"`
	Module           string     `json:"module"`
	EffectiveAt      time.Time  `json:"effective_at"`
	HourlyPriceMinor int64      `json:"hourly_price_minor"`
	Currency         string     `json:"currency"`
	Status           string     `json:"status"`
	AppliedAt        *time.Time `json:"applied_at,omitempty"`
	CancelledAt      *time.Time `json:"cancelled_at,omitempty"`
}

// SyncPriceSchedule writes the catalog's scheduled price changes into the
// control database (after SyncCatalog, which adds the modules): a new change
// is scheduled, a change whose price was edited before it applied takes the
// edited price, a cancelled change back in the manifest is scheduled again,
// and a change no longer in the manifest that has not applied is cancelled.
// An applied change is history and never changes. One transaction, rows
// visited in catalog order, so processes starting together take turns.
func SyncPriceSchedule(ctx context.Context, db *pgxpool.Pool, cat *catalog.Catalog) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var services, modules []string
		var instants []time.Time
		for _, name := range cat.Names() {
			svc, _ := cat.Service(name)
			for _, m := range svc.Modules {
				for _, c := range m.PriceChanges {
					services, modules, instants = append(services, svc.Name), append(modules, m.Name), append(instants, c.Effective())
					if _, err := tx.Exec(ctx, `
						INSERT INTO price_schedule (service, module, effective_at, hourly_price_minor, currency)
						VALUES ($1, $2, $3, $4, $5)
						ON CONFLICT (service, module, effective_at) DO UPDATE SET
							hourly_price_minor = EXCLUDED.hourly_price_minor, currency = EXCLUDED.currency,
							status = 'scheduled', cancelled_at = NULL, synced_at = now()
						WHERE price_schedule.status <> 'applied' AND (price_schedule.status = 'cancelled'
							OR price_schedule.hourly_price_minor <> EXCLUDED.hourly_price_minor
							OR price_schedule.currency <> EXCLUDED.currency)`,
						svc.Name, m.Name, c.Effective(), c.HourlyPriceMinor, svc.Currency); err != nil {
						return err
					}
				}
			}
		}
		_, err := tx.Exec(ctx, `
			UPDATE price_schedule p SET status = 'cancelled', cancelled_at = now(), synced_at = now()
			WHERE p.status = 'scheduled' AND NOT EXISTS (
				SELECT 1 FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(service, module, effective_at)
				WHERE k.service = p.service AND k.module = p.module AND k.effective_at = p.effective_at)`,
			services, modules, instants)
		return err
	})
}

// ApplyCatalogPrices applies, from now, an edited base price: a module
// whose price in the control database differs from the price its manifest
// says is in effect now (catalog.Module.PriceAt) gets that price with its
// spans split now. When the price in effect comes from a scheduled change
// not applied yet, it is no edit: that change's workflow applies it at its
// own instant. The compare and the change run in one transaction holding
// the module's row lock, so two processes starting at once record one
// change. Run it after SyncCatalog and SyncPriceSchedule.
func ApplyCatalogPrices(ctx context.Context, db *pgxpool.Pool, cat *catalog.Catalog, now time.Time) error {
	for _, name := range cat.Names() {
		svc, _ := cat.Service(name)
		for _, m := range svc.Modules {
			want, from := m.PriceAt(now)
			err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
				var current int64
				err := tx.QueryRow(ctx, `SELECT hourly_price_minor FROM modules WHERE service = $1 AND name = $2 FOR UPDATE`,
					svc.Name, m.Name).Scan(&current)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil // a new module: SyncCatalog adds it at the price in effect
				}
				if err != nil {
					return err
				}
				if from != nil {
					var status string
					err := tx.QueryRow(ctx, `SELECT status FROM price_schedule WHERE service = $1 AND module = $2 AND effective_at = $3`,
						svc.Name, m.Name, from.Effective()).Scan(&status)
					if err != nil && !errors.Is(err, pgx.ErrNoRows) {
						return err
					}
					if status != PriceApplied {
						return nil // pending: its workflow applies it at its instant
					}
				}
				if current == want {
					return nil
				}
				return applyPriceChange(ctx, tx, priceChange{Service: svc.Name, Module: m.Name, HourlyPriceMinor: want, At: now})
			})
			if err != nil {
				return fmt.Errorf("%s.%s: %w", svc.Name, m.Name, err)
			}
		}
	}
	return nil
}

// ApplyScheduledPrice applies the change scheduled for the module at
// effectiveAt, at that instant (never at now: a late apply bills the time
// since the instant at the new price too), and records it applied at now.
// It reads the schedule row under its lock, so a price edited or a change
// cancelled after the workflow started wins; a change applied already or
// cancelled is returned as it stands, unchanged.
func ApplyScheduledPrice(ctx context.Context, db *pgxpool.Pool, service, module string, effectiveAt, now time.Time) (ScheduledPrice, error) {
	var out ScheduledPrice
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, scheduledPriceSelect+`WHERE service = $1 AND module = $2 AND effective_at = $3 FOR UPDATE`,
			service, module, effectiveAt)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanScheduledPrice)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no price change of %s.%s is scheduled at %s", service, module, effectiveAt.UTC().Format(time.RFC3339))
		}
		if err != nil || out.Status != PriceScheduled {
			return err
		}
		if err := applyPriceChange(ctx, tx, priceChange{Service: out.Service, Module: out.Module,
			HourlyPriceMinor: out.HourlyPriceMinor, At: out.EffectiveAt}); err != nil {
			return err
		}
		applied := now.UTC()
		out.Status, out.AppliedAt = PriceApplied, &applied
		_, err = tx.Exec(ctx, `UPDATE price_schedule SET status = 'applied', applied_at = $4
			WHERE service = $1 AND module = $2 AND effective_at = $3`, out.Service, out.Module, out.EffectiveAt, applied)
		return err
	})
	return out, err
}

const scheduledPriceSelect = `SELECT service, module, effective_at, hourly_price_minor, currency, status, applied_at, cancelled_at
	FROM price_schedule `

func scanScheduledPrice(r pgx.CollectableRow) (ScheduledPrice, error) {
	var p ScheduledPrice
	err := r.Scan(&p.Service, &p.Module, &p.EffectiveAt, &p.HourlyPriceMinor, &p.Currency, &p.Status, &p.AppliedAt, &p.CancelledAt)
	p.EffectiveAt = p.EffectiveAt.UTC()
	for _, t := range []*time.Time{p.AppliedAt, p.CancelledAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return p, err
}

// PriceSchedule lists every scheduled change, by service, module and
// instant; pending only lists those not applied nor cancelled (the ones
// start-up starts a workflow for).
func PriceSchedule(ctx context.Context, q Querier, pending bool) ([]ScheduledPrice, error) {
	rows, err := q.Query(ctx, scheduledPriceSelect+`WHERE NOT $1 OR status = 'scheduled' ORDER BY service, module, effective_at`, pending)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanScheduledPrice)
}

// priceChange sets a module's hourly price from an instant on.
type priceChange struct {
	Service          string
	Module           string
	HourlyPriceMinor int64
	At               time.Time
}

// applyPriceChange records in.HourlyPriceMinor as the module's price from
// in.At until the next recorded change (if one was applied already: a
// scheduled change applied late, after a later one) and re-rates the spans
// of that window: spans started in it take the new rate, and every span
// that runs across At, open or already closed, is cut at At and continued
// from At at the new rate. It holds the module's row lock, so concurrent
// changes of one module run one after the other. A change already recorded
// at At changes nothing.
func applyPriceChange(ctx context.Context, tx pgx.Tx, in priceChange) error {
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
