package stack

import (
	"context"
	"errors"
	"sync"

	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// ensureBillingCycles starts the cycle of every account that has none (an
// account created before billing existed, whose signup could not start it,
// or whose cycle was terminated) at its first unbilled period, so the
// periods it missed are closed too; running cycles are left alone.
func (s *Stack) ensureBillingCycles(ctx context.Context, cfg Config) error {
	periods, err := controldb.UnbilledPeriods(ctx, s.DB, "", cfg.BillingPeriod)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 16)
	)
	for id, p := range periods {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := workflows.StartBillingCycle(ctx, s.Temporal, id, p, cfg.BillingPeriod); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ensurePriceChanges starts the PriceChange workflow of every scheduled
// change not applied nor cancelled; running ones are left alone.
func (s *Stack) ensurePriceChanges(ctx context.Context) error {
	pending, err := controldb.PriceSchedule(ctx, s.DB, true)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pending {
		_, err := workflows.StartPriceChange(ctx, s.Temporal,
			workflows.PriceChangeInput{Service: p.Service, Module: p.Module, EffectiveAt: p.EffectiveAt})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
