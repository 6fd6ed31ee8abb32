package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// UpgradeInput asks to move an instance to a newer version of its service.
type UpgradeInput struct {
	InstanceID string
	ActorID    string
	Version    string
	// At is the swap instant: the dropped modules' spans end there. The
	// workflow takes it once (workflow.Now), so a retry closes them at the
	// same instant.
	At time.Time
}

// UpgradePlan is what an upgrade will do.
type UpgradePlan = controldb.UpgradePlan

// CheckUpgrade validates an upgrade without writing anything: the instance
// must be ready and the version a released, newer one
// (controldb.CheckUpgrade, which the front ends call too). The workflow
// calls it as its first step.
func (a *Activities) CheckUpgrade(ctx context.Context, in UpgradeInput) (UpgradePlan, error) {
	return finish(controldb.CheckUpgrade(ctx, a.DB, a.Catalog, in.InstanceID, in.Version))
}

// SwapVersion moves the instance to its new version once its database has
// been migrated: in one transaction it records the version, removes the
// modules the version no longer offers and closes their usage spans at At,
// tells the routers and records the event. Retried after it committed, it
// finds the instance on the version and changes nothing.
func (a *Activities) SwapVersion(ctx context.Context, in UpgradeInput) (UpgradePlan, error) {
	return finish(a.swapVersion(ctx, in))
}

func (a *Activities) swapVersion(ctx context.Context, in UpgradeInput) (UpgradePlan, error) {
	// Checked, not trusted to the workflow's order: a swap onto a schema
	// the tenant does not have would break every request.
	if err := a.checkTenantSchema(ctx, in); err != nil {
		return UpgradePlan{}, err
	}
	var plan UpgradePlan
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		var err error
		plan, status, err = controldb.LockUpgrade(ctx, tx, a.Catalog, in.InstanceID, in.Version)
		if err != nil || plan.Current {
			return err
		}
		// A disabled instance is swapped too: its spans are already closed,
		// and it must come back on the schema its database now has.
		if status != "ready" && status != "disabled" {
			return apperr.Conflict("only a ready or disabled instance can be upgraded (it is %s)", status)
		}
		var account string
		if err := tx.QueryRow(ctx, `UPDATE instances SET version = $2, modules = $3, updated_at = now()
				WHERE id = $1 RETURNING account_id`, in.InstanceID, plan.Version, plan.Modules).Scan(&account); err != nil {
			return err
		}
		if len(plan.Dropped) > 0 {
			if err := closeSpans(ctx, tx, in.InstanceID, plan.Dropped, in.At); err != nil {
				return err
			}
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "upgrade/"+in.InstanceID+"/"+plan.Version, account, in.ActorID,
			"instance.upgraded", "instance", in.InstanceID,
			map[string]any{"from": plan.FromVersion, "to": plan.Version, "modules": plan.Modules, "dropped": plan.Dropped})
	})
	return plan, err
}

// checkTenantSchema demands that the tenant database holds, cleanly, at
// least the schema the target version runs on.
func (a *Activities) checkTenantSchema(ctx context.Context, in UpgradeInput) error {
	cfg, svc, v, err := tenantAtVersion(ctx, a, in.InstanceID, in.Version)
	if err != nil {
		return err
	}
	return withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		var have int64
		var dirty bool
		err := conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&have, &dirty)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if dirty || have < int64(v.SchemaVersion) {
			return apperr.Conflict("the instance's database is at schema %d (dirty: %t), %s %s needs %d: migrate it first",
				have, dirty, svc.Name, v.Version, v.SchemaVersion)
		}
		return nil
	})
}
