package stack

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/activities"
	"tenantry/workflows"
)

// ensureBillingCycles starts the cycle of every account that has none (an
// account created before billing existed, or whose signup could not start
// it); running cycles are left alone.
func (s *Stack) ensureBillingCycles(ctx context.Context, cfg Config) error {
	rows, err := s.DB.Query(ctx, `SELECT id::text FROM accounts`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	now := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 16)
	)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := workflows.StartBillingCycle(ctx, s.Temporal, id, cfg.BillingPeriod, now); err != nil {
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
	pending, err := activities.PriceSchedule(ctx, s.DB, true)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pending {
		errs = append(errs, workflows.StartPriceChange(ctx, s.Temporal,
			workflows.PriceChangeInput{Service: p.Service, Module: p.Module, EffectiveAt: p.EffectiveAt}))
	}
	return errors.Join(errs...)
}
