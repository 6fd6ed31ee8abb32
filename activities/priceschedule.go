package activities

import (
	"context"
	"fmt"
	"time"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// Statuses of a scheduled price change (price_schedule.status).
const (
	PriceScheduled = controldb.PriceScheduled
	PriceApplied   = controldb.PriceApplied
	PriceCancelled = controldb.PriceCancelled
)

// ScheduledPrice is one row of the price schedule.
type ScheduledPrice = controldb.ScheduledPrice

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
	now := a.Clock()
	if in.EffectiveAt.After(now) {
		return ScheduledPrice{}, fmt.Errorf("the change of %s.%s is not due until %s (now %s)",
			in.Service, in.Module, in.EffectiveAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return finish(controldb.ApplyScheduledPrice(ctx, a.DB, in.Service, in.Module, in.EffectiveAt, now))
}
