package activities

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
)

// SpansInput opens usage spans for modules of an instance at one instant.
type SpansInput struct {
	InstanceID string
	Modules    []string
	At         time.Time
}

// OpenUsageSpans starts billing each module at At, at the catalog's current
// rate. An already open span is left as it is, so a retry opens nothing twice.
func (a *Activities) OpenUsageSpans(ctx context.Context, in SpansInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		svc, err := a.instanceService(ctx, tx, in.InstanceID)
		if err != nil {
			return err
		}
		return openSpans(ctx, tx, svc, in.InstanceID, in.Modules, in.At)
	}))
}

func (a *Activities) instanceService(ctx context.Context, tx pgx.Tx, instanceID string) (*catalog.Service, error) {
	var service string
	err := tx.QueryRow(ctx, `SELECT service FROM instances WHERE id = $1`, instanceID).Scan(&service)
	if err == pgx.ErrNoRows {
		return nil, apperr.NotFound("instance %s does not exist", instanceID)
	}
	if err != nil {
		return nil, err
	}
	return a.Catalog.Service(service)
}

// openSpans opens each module's span at the rate the control database
// holds for it at the moment (a scheduled price change that took effect is
// there before the code's catalog is redeployed).
func openSpans(ctx context.Context, tx pgx.Tx, svc *catalog.Service, instanceID string, modules []string, at time.Time) error {
	for _, name := range modules {
		if _, ok := svc.Module(name); !ok {
			return apperr.Invalid("%s has no module %q", svc.Name, name)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO usage_spans (instance_id, module, started_at, hourly_rate_minor, currency)
			SELECT $1, name, $3, hourly_price_minor, currency FROM modules WHERE service = $4 AND name = $2
			ON CONFLICT DO NOTHING`,
			instanceID, name, at, svc.Name); err != nil {
			return err
		}
	}
	return nil
}

// closeSpans ends the open spans of the given modules (all when nil) at at.
func closeSpans(ctx context.Context, tx pgx.Tx, instanceID string, modules []string, at time.Time) error {
	_, err := tx.Exec(ctx, `
		UPDATE usage_spans SET ended_at = greatest($3::timestamptz, started_at)
		WHERE instance_id = $1 AND ended_at IS NULL AND ($2::text[] IS NULL OR module = ANY($2))`,
		instanceID, modules, at)
	return err
}
