package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// ModuleChangeInput asks for an instance's new module set, effective At.
type ModuleChangeInput struct {
	InstanceID string
	ActorID    string
	Modules    []string
	At         time.Time
}

// ModuleChange is the resolved change.
type ModuleChange = controldb.ModuleChange

// CheckModuleChange validates a module change against the catalog and the
// instance's state without writing anything (controldb.CheckModuleChange,
// which the front ends call too).
func (a *Activities) CheckModuleChange(ctx context.Context, in ModuleChangeInput) (ModuleChange, error) {
	return finish(controldb.CheckModuleChange(ctx, a.DB, a.Catalog, in.InstanceID, in.Modules))
}

// SwitchModules records the new module set and, in the same transaction,
// closes the removed modules' spans and opens the added ones' at the same
// instant, so no second is billed twice or lost.
func (a *Activities) SwitchModules(ctx context.Context, in ModuleChangeInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account, status, version string
		var current []string
		if err := controldb.LockInstance(ctx, tx, in.InstanceID, "account_id, status, version, modules", &account, &status, &version, &current); err != nil {
			return err
		}
		svc, err := a.instanceService(ctx, tx, in.InstanceID)
		if err != nil {
			return err
		}
		change := controldb.DiffModules(current, in.Modules)
		// The instance may have been disabled since the change was checked:
		// it must not be billed again. (An empty change is a retry.)
		if status != "ready" && len(change.Added)+len(change.Removed) > 0 {
			return apperr.Conflict("modules can only change while the instance is ready (it is %s)", status)
		}
		// Or upgraded to a version that no longer offers an added module:
		// the row lock orders this against SwapVersion.
		if dropped, err := svc.DroppedModules(change.Added, version); err != nil {
			return err
		} else if len(dropped) > 0 {
			return apperr.Invalid("%s %s does not offer the module %q", svc.Name, version, dropped[0])
		}
		if len(change.Removed) > 0 {
			if err := closeSpans(ctx, tx, in.InstanceID, change.Removed, in.At); err != nil {
				return err
			}
		}
		if err := openSpans(ctx, tx, svc, in.InstanceID, change.Added, in.At); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET modules = $2, updated_at = now() WHERE id = $1`, in.InstanceID, in.Modules); err != nil {
			return err
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "modules/"+in.InstanceID+"/"+in.At.UTC().Format(time.RFC3339Nano), account, in.ActorID,
			"instance.modules_changed", "instance", in.InstanceID,
			map[string]any{"modules": in.Modules, "added": change.Added, "removed": change.Removed})
	}))
}

// DisableInput disables an instance At and schedules its data's deletion.
type DisableInput struct {
	InstanceID  string
	ActorID     string
	At          time.Time
	DeleteAfter time.Time
}

// DisableInstance takes the instance off its host and stops its billing; the
// database stays until the grace period ends.
func (a *Activities) DisableInstance(ctx context.Context, in DisableInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account, status string
		var maintenance bool
		if err := controldb.LockInstance(ctx, tx, in.InstanceID, "account_id, status, maintenance", &account, &status, &maintenance); err != nil {
			return err
		}
		switch status {
		case "disabled":
			return nil // a retry
		case "ready":
		default:
			return apperr.Conflict("only a ready instance can be disabled (it is %s)", status)
		}
		if maintenance {
			// Mid-upgrade: its database may be ahead of the version it
			// runs until the swap, so it is not taken away now.
			return apperr.Conflict("the instance is being upgraded to a new version: disable it once its upgrade is done")
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET status = 'disabled', host_registered_at = NULL,
				disabled_at = $2, delete_after = $3, updated_at = now() WHERE id = $1`, in.InstanceID, in.At, in.DeleteAfter); err != nil {
			return err
		}
		if err := closeSpans(ctx, tx, in.InstanceID, nil, in.At); err != nil {
			return err
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "disable/"+in.InstanceID+"/"+in.At.UTC().Format(time.RFC3339Nano), account, in.ActorID,
			"instance.disabled", "instance", in.InstanceID, map[string]any{"delete_after": in.DeleteAfter})
	}))
}

// ReenableInput brings a disabled instance back At.
type ReenableInput struct {
	InstanceID string
	ActorID    string
	At         time.Time
}

// ReenableInstance routes the host again and reopens billing for the
// instance's modules; the data was never touched.
func (a *Activities) ReenableInstance(ctx context.Context, in ReenableInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account, status string
		var modules []string
		if err := controldb.LockInstance(ctx, tx, in.InstanceID, "account_id, status, modules", &account, &status, &modules); err != nil {
			return err
		}
		switch status {
		case "ready":
			return nil // a retry
		case "disabled":
		default:
			return apperr.Conflict("only a disabled instance can be enabled again (it is %s)", status)
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET status = 'ready', host_registered_at = now(),
				disabled_at = NULL, delete_after = NULL, updated_at = now() WHERE id = $1`, in.InstanceID); err != nil {
			return err
		}
		svc, err := a.instanceService(ctx, tx, in.InstanceID)
		if err != nil {
			return err
		}
		if err := openSpans(ctx, tx, svc, in.InstanceID, modules, in.At); err != nil {
			return err
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "reenable/"+in.InstanceID+"/"+in.At.UTC().Format(time.RFC3339Nano), account, in.ActorID,
			"instance.reenabled", "instance", in.InstanceID, nil)
	}))
}

// DeleteInstance marks a disabled instance deleted once its database is
// dropped, releasing its host and forgetting its credentials.
func (a *Activities) DeleteInstance(ctx context.Context, in InstanceRef) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account string
		err := tx.QueryRow(ctx, `UPDATE instances SET status = 'deleted', credentials_encrypted = NULL, updated_at = now()
			WHERE id = $1 AND status IN ('disabled', 'deleted') RETURNING account_id`, in.InstanceID).Scan(&account)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Conflict("instance %s is not disabled", in.InstanceID)
		}
		if err != nil {
			return err
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "delete/"+in.InstanceID, account, "", "instance.deleted", "instance", in.InstanceID, nil)
	}))
}
