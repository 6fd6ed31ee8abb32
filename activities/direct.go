package activities

import (
	"context"
	"time"
)

// ProvisionNow runs the enable workflow's steps in their order, directly,
// without Temporal and without compensation: the provisioning benchmark's
// floor, and fixtures for tests and benchmarks of what runs on provisioned
// instances. Billing starts at.
func (a *Activities) ProvisionNow(ctx context.Context, in ReserveInstanceInput, setup Setup, at time.Time) (ReserveInstanceResult, error) {
	ref := InstanceRef{InstanceID: in.InstanceID}
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
			return a.MigrateTenant(ctx, MigrateInput{InstanceID: in.InstanceID, Version: res.Version})
		},
		func() error {
			return a.SeedTenant(ctx, SeedInput{InstanceID: in.InstanceID, Setup: setup, Modules: res.Modules})
		},
		func() error { return a.RegisterHost(ctx, ref) },
		func() error {
			return a.OpenUsageSpans(ctx, SpansInput{InstanceID: in.InstanceID, Modules: res.Modules, At: at})
		},
		func() error { return a.MarkReady(ctx, MarkReadyInput{InstanceID: in.InstanceID, ActorID: in.ActorID}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return res, err
		}
	}
	return res, nil
}
