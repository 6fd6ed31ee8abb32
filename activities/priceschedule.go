package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
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
func (a *Activities) SyncPriceSchedule(ctx context.Context) error {
	return a.inTx(ctx, func(tx pgx.Tx) error {
		var services, modules []string
		var instants []time.Time
		for _, name := range a.Catalog.Names() {
			svc, _ := a.Catalog.Service(name)
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
func (a *Activities) ApplyCatalogPrices(ctx context.Context) error {
	now := a.Clock()
	for _, name := range a.Catalog.Names() {
		svc, _ := a.Catalog.Service(name)
		for _, m := range svc.Modules {
			want, from := m.PriceAt(now)
			err := a.inTx(ctx, func(tx pgx.Tx) error {
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
				return applyPriceChange(ctx, tx, PriceChangeInput{Service: svc.Name, Module: m.Name, HourlyPriceMinor: want, At: now})
			})
			if err != nil {
				return fmt.Errorf("%s.%s: %w", svc.Name, m.Name, err)
			}
		}
	}
	return nil
}

// ScheduledPriceInput names one scheduled change.
type ScheduledPriceInput struct {
	Service     string
	Module      string
	EffectiveAt time.Time
}

// ApplyScheduledPrice applies a scheduled change at its effective instant
// (never at now: a late apply bills the time since the instant at the new
// price too). It reads the schedule row under its lock, so a price edited
// or a change cancelled after the workflow started wins; a change applied
// already or cancelled is returned as it stands, unchanged. Before its
// instant it fails with a retryable error.
func (a *Activities) ApplyScheduledPrice(ctx context.Context, in ScheduledPriceInput) (ScheduledPrice, error) {
	if in.Service == "" || in.Module == "" || in.EffectiveAt.IsZero() {
		return finish(ScheduledPrice{}, apperr.Invalid("a scheduled price change needs a service, a module and an instant"))
	}
	if now := a.Clock(); in.EffectiveAt.After(now) {
		return ScheduledPrice{}, fmt.Errorf("the change of %s.%s is not due until %s (now %s)",
			in.Service, in.Module, in.EffectiveAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	var out ScheduledPrice
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, scheduledPriceSelect+`WHERE service = $1 AND module = $2 AND effective_at = $3 FOR UPDATE`,
			in.Service, in.Module, in.EffectiveAt)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanScheduledPrice)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no price change of %s.%s is scheduled at %s", in.Service, in.Module, in.EffectiveAt.UTC().Format(time.RFC3339))
		}
		if err != nil || out.Status != PriceScheduled {
			return err
		}
		if err := applyPriceChange(ctx, tx, PriceChangeInput{Service: out.Service, Module: out.Module,
			HourlyPriceMinor: out.HourlyPriceMinor, At: out.EffectiveAt}); err != nil {
			return err
		}
		applied := a.Clock().UTC()
		out.Status, out.AppliedAt = PriceApplied, &applied
		_, err = tx.Exec(ctx, `UPDATE price_schedule SET status = 'applied', applied_at = $4
			WHERE service = $1 AND module = $2 AND effective_at = $3`, out.Service, out.Module, out.EffectiveAt, applied)
		return err
	})
	return finish(out, err)
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
