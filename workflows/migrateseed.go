package workflows

import (
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// MigrateAndSeed's contract: a child of EnableService and UpgradeInstance
// on TaskQueue (never started from outside a workflow); its progress query
// answers a Progress.

// MigrateAndSeedVersioning is pinned: a child of a pinned provisioning or
// upgrade, finished in minutes at most.
const MigrateAndSeedVersioning = workflow.VersioningBehaviorPinned

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
	db := withDBSteps(ctx)
	err = t.run(ctx, MigrateAndSeedStepMigrate, func() error {
		return call(db, acts.MigrateTenant, activities.MigrateInput{InstanceID: in.InstanceID, Version: in.Version}, nil)
	})
	if err == nil && in.Setup != nil {
		err = t.run(ctx, MigrateAndSeedStepSeed, func() error {
			return call(db, acts.SeedTenant, activities.SeedInput{InstanceID: in.InstanceID, Setup: *in.Setup, Modules: in.Modules}, nil)
		})
	} else if err == nil {
		t.set(ctx, MigrateAndSeedStepSeed, StepSkipped)
	}
	if err != nil {
		t.fail(ctx, err)
		return err
	}
	t.finish(StatusCompleted)
	return nil
}
