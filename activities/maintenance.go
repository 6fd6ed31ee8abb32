package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// MaintenanceInput turns an instance's maintenance flag on or off for the
// workflow By names (an UpgradeInstanceID or a MoveInstanceID; empty for
// callers that name none).
type MaintenanceInput struct {
	InstanceID string
	On         bool
	By         string `json:",omitempty"`
}

// SetMaintenance sets the flag rollouts raise while they migrate an
// instance; the host routers answer 503 with Retry-After meanwhile. Setting
// the flag it already has changes nothing but tells the routers again.
// Maintenance has one holder: turning it on while another workflow holds
// it (an upgrade while a move copies the database, or the reverse) is an
// apperr.Conflict naming it, and turning it off leaves another holder's
// maintenance alone (a failed upgrade does not end a move's).
func (a *Activities) SetMaintenance(ctx context.Context, in MaintenanceInput) error {
	changed := false
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
		var on bool
		var holder string
		err := tx.QueryRow(ctx, `SELECT maintenance, coalesce(maintenance_by, '') FROM instances WHERE id = $1 AND status <> 'deleted'`,
			in.InstanceID).Scan(&on, &holder)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("instance %s does not exist", in.InstanceID)
		}
		if err != nil {
			return err
		}
		if on && holder != "" && in.By != "" && holder != in.By {
			if in.On {
				return apperr.Conflict("the instance is in maintenance for %s: try again when it ends", holder)
			}
			return nil // not ours to end
		}
		changed = true
		by := in.By
		if !in.On {
			by = ""
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET maintenance = $2, maintenance_by = nullif($3, ''), updated_at = now() WHERE id = $1`,
			in.InstanceID, in.On, by); err != nil {
			return err
		}
		return controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID)
	}))
	if err == nil && changed {
		a.logEvent(ctx, in.InstanceID, "instance.maintenance", map[string]any{"on": in.On})
	}
	return err
}
