// Package provisionfloor runs the enable workflow's steps directly,
// without Temporal and without compensation: the provisioning benchmark's
// floor (what provisioning costs without the server's round trips), and a
// fixture for tests and benchmarks of what runs on provisioned instances.
// Only benchmarks and tests import it; no shipped command does.
package provisionfloor

import (
	"context"
	"time"

	"tenantry/activities"
)

// Provision runs the enable workflow's activities on a in their order,
// directly. Billing starts at.
func Provision(ctx context.Context, a *activities.Activities, in activities.ReserveInstanceInput, setup activities.Setup, at time.Time) (activities.ReserveInstanceResult, error) {
	ref := activities.InstanceRef{InstanceID: in.InstanceID}
	res, err := a.ReserveInstance(ctx, in)
	if err != nil {
		return res, err
	}
	info, err := a.AllocateDatabase(ctx, ref)
	if err != nil {
		return res, err
	}
	steps := []func() error{
		func() error { return a.CreateRole(ctx, info) },
		func() error { return a.CreateDatabase(ctx, info) },
		func() error {
			return a.MigrateTenant(ctx, activities.MigrateInput{InstanceID: in.InstanceID, Version: res.Version})
		},
		func() error {
			return a.SeedTenant(ctx, activities.SeedInput{InstanceID: in.InstanceID, Setup: setup, Modules: res.Modules})
		},
		func() error { return a.RegisterHost(ctx, ref) },
		func() error {
			return a.OpenUsageSpans(ctx, activities.SpansInput{InstanceID: in.InstanceID, Modules: res.Modules, At: at})
		},
		func() error {
			return a.MarkReady(ctx, activities.MarkReadyInput{InstanceID: in.InstanceID, ActorID: in.ActorID})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return res, err
		}
	}
	return res, nil
}
