package workflows

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
)

// UpgradeInstance's contract: one per instance and version on TaskQueue,
// started by StartUpgrade (a Rollout runs it as a child); its progress
// query answers a Progress.

// UpgradeInstanceVersioning is pinned: maintenance on, migrate, swap and
// maintenance off run on one build, in minutes.
const UpgradeInstanceVersioning = workflow.VersioningBehaviorPinned

// UpgradeInstanceID is one upgrade of an instance to one version; a
// Rollout runs it as a child per instance.
func UpgradeInstanceID(instanceID, version string) string {
	return "upgrade/" + instanceID + "/" + version
}

// UpgradeInput names the instance, the version to move it to, and who asked.
type UpgradeInput struct {
	InstanceID string
	AccountID  string
	Service    string
	ActorID    string
	Version    string
}

// UpgradeResult is what the upgrade changed: the version it came from,
// the modules it kept and the ones it dropped.
type UpgradeResult = activities.UpgradePlan

// UpgradeInstance's steps, in order.
const (
	UpgradeStepValidate       = "validate"
	UpgradeStepMaintenanceOn  = "maintenance_on"
	UpgradeStepMigrate        = "migrate"
	UpgradeStepSwap           = "swap"
	UpgradeStepSettings       = "tenant_settings"
	UpgradeStepMaintenanceOff = "maintenance_off"
	// UpgradeStepRollBack appears only after a failed migration: it
	// migrates the database back to the schema of the version the
	// instance stays on.
	UpgradeStepRollBack = "roll_back"
)

// StartUpgrade starts an instance's upgrade to a version and returns its
// workflow ID; an upgrade to the same version still running is an
// apperr.Conflict.
func StartUpgrade(ctx context.Context, c client.Client, in UpgradeInput) (string, error) {
	id := UpgradeInstanceID(in.InstanceID, in.Version)
	_, err := startOnce(ctx, c, id, SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"an upgrade of this instance to "+in.Version+" is already running", UpgradeInstance, in)
	return id, err
}

// UpgradeInstance moves one instance to a newer version of its service:
// validate → maintenance on (the routers answer 503) → migrate its database
// (MigrateAndSeed child, no seed) → swap the version (dropped modules stop
// being billed) → write the modules into the tenant → maintenance off. If a
// step before the swap fails, maintenance is turned off and the instance
// keeps the version it had; if the swap fails, the database is migrated
// already and the instance stays in maintenance for an operator to finish
// it. Either failure fails the workflow for good, with its reason in the
// progress. (Migrations that did apply stay applied: each
// file is one transaction, so the database is never half-way through one.)
func UpgradeInstance(ctx workflow.Context, in UpgradeInput) (UpgradeResult, error) {
	u := &upgrade{in: in}
	var err error
	u.t, err = newTracker(ctx,
		stepDef{UpgradeStepValidate, "Check the instance is ready and the version newer"},
		stepDef{UpgradeStepMaintenanceOn, "Put the instance in maintenance"},
		stepDef{UpgradeStepMigrate, "Migrate the database to " + in.Version},
		stepDef{UpgradeStepSwap, "Switch to " + in.Version + " and stop billing the modules it drops"},
		stepDef{UpgradeStepSettings, "Write the modules into the instance's settings"},
		stepDef{UpgradeStepMaintenanceOff, "End maintenance"},
	)
	if err != nil {
		return activities.UpgradePlan{}, err
	}
	if err := u.run(ctx); err != nil {
		return u.plan, err
	}
	u.t.finish(StatusCompleted)
	return u.plan, nil
}

type upgrade struct {
	in   UpgradeInput
	t    *tracker
	plan activities.UpgradePlan
	// inMaintenance: maintenance was (maybe) turned on and must end.
	inMaintenance bool
}

func (u *upgrade) run(ctx workflow.Context) error {
	db := withDBSteps(ctx)
	check := activities.UpgradeInput{InstanceID: u.in.InstanceID, ActorID: u.in.ActorID, Version: u.in.Version}
	if err := u.t.run(ctx, UpgradeStepValidate, func() error { return call(db, acts.CheckUpgrade, check, &u.plan) }); err != nil {
		return u.fail(ctx, err)
	}
	if u.plan.Current {
		// Already there (a repeated request): nothing to drain or migrate.
		for _, s := range []string{UpgradeStepMaintenanceOn, UpgradeStepMigrate, UpgradeStepSwap, UpgradeStepSettings, UpgradeStepMaintenanceOff} {
			u.t.set(ctx, s, StepSkipped)
		}
		return nil
	}
	// Taken once, so a retried swap closes the spans at the same instant.
	swap := check
	swap.At = workflow.Now(ctx).UTC()
	steps := []struct {
		name string
		fn   func() error
	}{
		{UpgradeStepMaintenanceOn, func() error {
			u.inMaintenance = true
			return call(db, acts.SetMaintenance, activities.MaintenanceInput{InstanceID: u.in.InstanceID, On: true, By: u.id()}, nil)
		}},
		{UpgradeStepMigrate, func() error {
			cctx := childOptions(ctx, MigrateAndSeedID(u.in.InstanceID, u.in.Version), u.in.AccountID, u.plan.Service, u.in.InstanceID)
			return workflow.ExecuteChildWorkflow(cctx, MigrateAndSeed, MigrateAndSeedInput{
				InstanceID: u.in.InstanceID, Version: u.in.Version,
			}).Get(ctx, nil)
		}},
		{UpgradeStepSwap, func() error {
			var swapped activities.UpgradePlan
			err := call(db, acts.SwapVersion, swap, &swapped)
			// A swap re-run after its reply was lost finds the version
			// already set: the plan checked before it still says what changed.
			if err == nil && !swapped.Current {
				u.plan = swapped
			}
			return err
		}},
		{UpgradeStepSettings, func() error {
			return call(db, acts.WriteTenantModules, activities.TenantModulesInput{InstanceID: u.in.InstanceID, Modules: u.plan.Modules}, nil)
		}},
		{UpgradeStepMaintenanceOff, func() error { return u.endMaintenance(ctx) }},
	}
	for _, st := range steps {
		if err := u.t.run(ctx, st.name, st.fn); err != nil {
			return u.fail(ctx, err)
		}
	}
	return nil
}

// id names this upgrade as the holder of the instance's maintenance (the
// field added to SetMaintenance's input changes no command: recorded runs
// replay as they ran).
func (u *upgrade) id() string { return UpgradeInstanceID(u.in.InstanceID, u.in.Version) }

// endMaintenance ends the instance's maintenance.
func (u *upgrade) endMaintenance(ctx workflow.Context) error {
	err := endMaintenance(ctx, u.in.InstanceID, u.id())
	if err == nil {
		u.inMaintenance = false
	}
	return err
}

// endMaintenance turns an instance's maintenance off for its holder by (a
// workflow ID) on a disconnected context, so that it also runs when the
// workflow is cancelled; another holder's maintenance stays on.
func endMaintenance(ctx workflow.Context, instanceID, by string) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	return call(withDBSteps(dctx), acts.SetMaintenance, activities.MaintenanceInput{InstanceID: instanceID, On: false, By: by}, nil)
}

// upgradeRollsBackVersion guards migrating the database back after a
// failed migration: runs recorded before it ended maintenance at once.
const upgradeRollsBackVersion = "upgrade-rolls-back"

// rollBack migrates the database back to the schema of the version the
// instance keeps (MigrateTenant runs the down files of what the failed
// migration applied; each file is one transaction and recorded in the
// migrator's ledger, so a database left dirty is settled first). Nothing
// wrote to the instance meanwhile: it is in maintenance. It runs on a
// disconnected context, so a cancelled upgrade still rolls back.
func (u *upgrade) rollBack(ctx workflow.Context) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	err := u.t.run(dctx, UpgradeStepRollBack, func() error {
		return callLong(withLongSteps(dctx), acts.MigrateTenant, activities.MigrateInput{InstanceID: u.in.InstanceID, Version: u.plan.FromVersion}, nil)
	})
	s := u.t.step(UpgradeStepRollBack)
	s.Title = "Migrate the database back to " + u.plan.FromVersion
	if err != nil {
		s.Error, s.Cause = apperr.Cause(err), ""
	}
	return err
}

// fail ends maintenance if this upgrade may have begun it, records why in
// the progress, and returns a final error an operator can read.
func (u *upgrade) fail(ctx workflow.Context, cause error) error {
	reason := apperr.Cause(cause)
	var failed string
	for _, s := range u.t.p.Steps {
		if s.State == StepFailed {
			failed = s.Name
		}
	}
	u.t.step(failed).Error = reason
	if failed == UpgradeStepSwap {
		// The database is migrated already: the old version's code may not
		// run on it (forum 1.2.0 renames a table), so the instance stays in
		// maintenance until an operator finishes the swap.
		reason = "swap failed: " + reason + "; the database is migrated to " + u.in.Version + " but the instance still runs " +
			u.plan.FromVersion + ", so it stays in maintenance: fix the cause, then " +
			u.resetCommand("retry-swap")
		return u.finish(ctx, reason, cause)
	}
	if failed == UpgradeStepMigrate && workflow.GetVersion(ctx, upgradeRollsBackVersion, workflow.DefaultVersion, 1) == 1 {
		if err := u.rollBack(ctx); err != nil {
			// Between the two versions' schemas neither version's code may
			// run: the instance stays in maintenance for an operator.
			reason = "migrate failed: " + reason + "; migrating the database back to " + u.plan.FromVersion + "'s schema failed too (" +
				apperr.Cause(err) + "), so the instance stays in maintenance: fix the cause, then " + u.resetCommand("retry-roll-back")
			return u.finish(ctx, reason, cause)
		}
	}
	if u.inMaintenance && failed != UpgradeStepMaintenanceOff {
		if err := u.t.run(ctx, UpgradeStepMaintenanceOff, func() error { return u.endMaintenance(ctx) }); err != nil {
			u.t.step(UpgradeStepMaintenanceOff).Error = apperr.Cause(err)
			reason += " (and maintenance could not be ended: " + apperr.Cause(err) + ")"
		}
	}
	switch {
	case failed == UpgradeStepMigrate && u.t.step(UpgradeStepRollBack).State == StepDone:
		reason = failed + " failed: " + reason + "; the database is back on " + u.plan.FromVersion + "'s schema and the instance stays on " + u.plan.FromVersion
	case failed == UpgradeStepMaintenanceOn, failed == UpgradeStepMigrate:
		reason = failed + " failed: " + reason + "; the instance stays on " + u.plan.FromVersion
	}
	return u.finish(ctx, reason, cause)
}

// finish fails the upgrade for good with reason, written for operators:
// it is the failure's message and the progress's error also when the
// cause is internal, and it holds the cause already.
func (u *upgrade) finish(ctx workflow.Context, reason string, cause error) error {
	err := temporal.NewNonRetryableApplicationError(reason, string(apperr.KindOf(cause)), cause)
	u.t.fail(ctx, err)
	u.t.p.Error, u.t.p.Cause = reason, ""
	return err
}

// resetCommand retries this upgrade from its last workflow task, once an
// operator fixed what made it stop.
func (u *upgrade) resetCommand(why string) string {
	return "go tool temporal workflow reset --workflow-id " + u.id() + " --type LastWorkflowTask --reason " + why
}
