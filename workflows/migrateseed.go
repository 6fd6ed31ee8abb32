package workflows

import (
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// MigrateAndSeed's contract: a child of EnableService and UpgradeInstance
// on TaskQueue (never started from outside a workflow); its progress query
// answers a Progress.

// MigrateAndSeedID names one migration of an instance to one version.
func MigrateAndSeedID(instanceID, version string) string {
	return "migrate/" + instanceID + "/" + version
}

// MigrateAndSeedInput says what to migrate to. Without Setup the seed is
// skipped (a version upgrade of a running instance).
type MigrateAndSeedInput struct {
	InstanceID string
	Version    string
	Setup      *activities.Setup
	Modules    []string
}

// MigrateAndSeed's steps, in order.
const (
	MigrateAndSeedStepMigrate = "migrate"
	MigrateAndSeedStepSeed    = "seed"
)

// MigrateAndSeed brings a tenant database to a service version's schema and
// seeds it with the admin user, the language and the enabled modules.
func MigrateAndSeed(ctx workflow.Context, in MigrateAndSeedInput) error {
	t, err := newTracker(ctx,
		stepDef{MigrateAndSeedStepMigrate, "Apply the service's migrations"},
		stepDef{MigrateAndSeedStepSeed, "Seed the admin user, language and modules"},
	)
	if err != nil {
		return err
	}
	if longSteps(ctx) {
		err = migrateAndSeed(ctx, t, in)
	} else {
		err = migrateThenSeedLocally(ctx, t, in)
	}
	if err != nil {
		t.fail(ctx, err)
		return err
	}
	t.finish(StatusCompleted)
	return nil
}

// migrateAndSeed runs both steps in one regular activity (MigrateTenant
// with its Seed): either can take minutes on a large tenant, so it
// heartbeats and has an hour per attempt, and one activity instead of two
// spares provisioning a round trip through the server. The seed step runs
// (and shows running) with the migration.
func migrateAndSeed(ctx workflow.Context, t *tracker, in MigrateAndSeedInput) error {
	mi := activities.MigrateInput{InstanceID: in.InstanceID, Version: in.Version}
	if in.Setup != nil {
		mi.Seed = &activities.SeedInput{InstanceID: in.InstanceID, Setup: *in.Setup, Modules: in.Modules}
		t.set(ctx, MigrateAndSeedStepSeed, StepRunning)
	} else {
		t.set(ctx, MigrateAndSeedStepSeed, StepSkipped)
	}
	err := t.run(ctx, MigrateAndSeedStepMigrate, func() error {
		return callLong(withLongSteps(ctx), acts.MigrateTenant, mi, nil)
	})
	switch {
	case mi.Seed == nil:
	case err != nil:
		t.set(ctx, MigrateAndSeedStepSeed, StepSkipped)
	default:
		t.set(ctx, MigrateAndSeedStepSeed, StepDone)
	}
	return err
}

// migrateThenSeedLocally is how runs recorded before longStepsVersion
// migrated and seeded: two local activities.
func migrateThenSeedLocally(ctx workflow.Context, t *tracker, in MigrateAndSeedInput) error {
	db := withDBSteps(ctx)
	err := t.run(ctx, MigrateAndSeedStepMigrate, func() error {
		return call(db, acts.MigrateTenant, activities.MigrateInput{InstanceID: in.InstanceID, Version: in.Version}, nil)
	})
	if err == nil && in.Setup != nil {
		err = t.run(ctx, MigrateAndSeedStepSeed, func() error {
			return call(db, acts.SeedTenant, activities.SeedInput{InstanceID: in.InstanceID, Setup: *in.Setup, Modules: in.Modules}, nil)
		})
	} else if err == nil {
		t.set(ctx, MigrateAndSeedStepSeed, StepSkipped)
	}
	return err
}
