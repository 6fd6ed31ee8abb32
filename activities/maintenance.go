package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// MaintenanceInput turns an instance's maintenance flag on or off.
type MaintenanceInput struct {
	InstanceID string
	On         bool
}

// SetMaintenance sets the flag rollouts raise while they migrate an
// instance; the host routers answer 503 with Retry-After meanwhile. Setting
// the flag it already has changes nothing but tells the routers again.
func (a *Activities) SetMaintenance(ctx context.Context, in MaintenanceInput) error {
	err := apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var ended bool
		if err := controldb.LockInstance(ctx, tx, in.InstanceID,
			`status = 'ready' AND expires_at IS NOT NULL AND expires_at <= now()`, &ended); err != nil {
			return err
		}
		if in.On && ended {
			// Its expiry is disabling it: an upgrade now would race it.
			return apperr.Conflict("the instance has reached its end and is being disabled: it is not upgraded")
		}
		var id string
		err := tx.QueryRow(ctx, `UPDATE instances SET maintenance = $2, updated_at = now()
			WHERE id = $1 AND status <> 'deleted' RETURNING id`, in.InstanceID, in.On).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("instance %s does not exist", in.InstanceID)
		}
		if err != nil {
			return err
		}
		return controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID)
	}))
	if err == nil {
		a.logEvent(ctx, in.InstanceID, "instance.maintenance", map[string]any{"on": in.On})
	}
	return err
}
