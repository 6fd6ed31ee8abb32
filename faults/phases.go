package main

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/devstack"
	"tenantry/workflows"
)

// phaseStart starts every process at the same instant on the empty control
// database: all must come up.
func (s *suite) phaseStart() error {
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, p := range s.procs() {
		wg.Go(func() { errs[i] = p.start() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	t0 := time.Now()
	if err := s.waitUp(90*time.Second, s.procs()...); err != nil {
		return err
	}
	s.t.recovered("start", time.Since(t0))
	fmt.Printf("   web, two workers and the router started together: all up in %s\n", time.Since(t0).Round(100*time.Millisecond))
	return s.signup()
}

// restart starts p again and waits for it to serve.
func (s *suite) restart(p *proc) error {
	if err := p.start(); err != nil {
		return err
	}
	return s.waitUp(60*time.Second, p)
}

// killAndRestart SIGKILLs p and starts it again after a pause.
func (s *suite) killAndRestart(p *proc, pause time.Duration) func() error {
	return func() error {
		p.kill()
		fmt.Printf("   %s SIGKILLed\n", p.name)
		time.Sleep(pause)
		return p.start() // up is checked by the traffic's recovery
	}
}

// phaseWorkerKill SIGKILLs the workers in turn, five times, during enables.
func (s *suite) phaseWorkerKill() error {
	w0, w1 := s.workers[0], s.workers[1]
	err := s.enables("worker-kill", 22*time.Second, func() error {
		return at(
			step{2 * time.Second, s.killAndRestart(w0, time.Second)},
			step{6 * time.Second, s.killAndRestart(w1, time.Second)},
			step{10 * time.Second, s.killAndRestart(w0, time.Second)},
			step{14 * time.Second, s.killAndRestart(w1, time.Second)},
			step{18 * time.Second, s.killAndRestart(w0, time.Second)},
		)
	})
	if err != nil {
		return err
	}
	return s.waitUp(60*time.Second, w0, w1)
}

// phaseBillingKill closes one period of a few hundred accounts while the
// workers are SIGKILLed in turn: every account gets exactly one invoice;
// the recovery is the last invoice's delay after the boundary.
func (s *suite) phaseBillingKill() error {
	// A period with room to seed and start every cycle before its end.
	p := billing.PeriodOf(time.Now(), billingPeriod)
	if time.Until(p.End) < 30*time.Second {
		p = p.Next(billingPeriod)
	}
	accounts := make([]string, billingAccounts)
	err := pgx.BeginFunc(s.ctx, s.db, func(tx pgx.Tx) error {
		for i := range accounts {
			acc, err := billingtest.Account(s.ctx, tx, fmt.Sprintf("Billed %d", i))
			if err != nil {
				return err
			}
			accounts[i] = acc
			if _, err := billingtest.Instance(s.ctx, tx, acc, "forum", fmt.Sprintf("b%d.billed.localhost", i),
				[]string{"core", "search"}, p.Start.Add(-time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var startErr error
	for _, acc := range accounts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := workflows.StartBillingCycle(s.ctx, s.tc, acc, p, billingPeriod); err != nil {
				mu.Lock()
				startErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if startErr != nil {
		return startErr
	}
	fmt.Printf("   %d accounts' cycles wait for the boundary at %s (in %s)\n", len(accounts), p.End.Format("15:04:05"),
		time.Until(p.End).Round(time.Second))
	time.Sleep(time.Until(p.End))
	w0, w1 := s.workers[0], s.workers[1]
	if err := at(
		step{500 * time.Millisecond, s.killAndRestart(w0, time.Second)},
		step{2500 * time.Millisecond, s.killAndRestart(w1, time.Second)},
		step{5 * time.Second, s.killAndRestart(w0, time.Second)},
	); err != nil {
		return err
	}
	deadline := p.End.Add(3 * time.Minute)
	for {
		var n int
		var last *time.Time
		err := s.db.QueryRow(s.ctx, `SELECT count(*), max(closed_at) FROM invoices WHERE period_start = $1 AND account_id = ANY($2::uuid[])`,
			p.Start, accounts).Scan(&n, &last)
		if err == nil && n == len(accounts) {
			s.t.recovered("billing-kill", last.Sub(p.End))
			fmt.Printf("   %d invoices, the last %s after the boundary\n", n, last.Sub(p.End).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d invoices of the period by %s", n, len(accounts), deadline.Format("15:04:05"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	return s.waitUp(60*time.Second, w0, w1)
}

// phasePostgresCrash shuts PostgreSQL down immediately during enables and
// starts it again three seconds later.
func (s *suite) phasePostgresCrash() error {
	return s.enables("postgres-crash", 20*time.Second, func() error {
		return at(step{5 * time.Second, func() error {
			s.pg.Crash()
			fmt.Println("   PostgreSQL shut down immediately")
			time.Sleep(3 * time.Second)
			var err error
			s.pg, err = devstack.StartPostgres(s.ctx, s.pgOpts)
			fmt.Println("   PostgreSQL restarted")
			return err
		}})
	})
}

// phaseTemporalKill SIGKILLs the dev server during enables and starts it
// again from its database file two seconds later.
func (s *suite) phaseTemporalKill() error {
	return s.enables("temporal-kill", 20*time.Second, func() error {
		return at(step{5 * time.Second, func() error {
			s.tmp.Kill()
			fmt.Println("   dev server SIGKILLed")
			time.Sleep(2 * time.Second)
			// Its internal ports are picked at start; one may be taken
			// in between: try again.
			var err error
			for range 5 {
				if s.tmp, err = devstack.StartTemporal(s.ctx, s.tmpOpts); err == nil {
					fmt.Println("   dev server restarted from its file")
					return nil
				}
				time.Sleep(time.Second)
			}
			return err
		}})
	})
}

// phaseRouterKill sends metered traffic to a ready host while the router is
// SIGKILLed and restarted; afterwards the router stops gracefully (its last
// flush) and the counted requests may miss at most the killed router's
// unflushed window.
func (s *suite) phaseRouterKill() error {
	var id, host string
	if err := s.db.QueryRow(s.ctx, `SELECT id::text, host FROM instances WHERE status = 'ready' AND database_name IS NOT NULL
		ORDER BY created_at LIMIT 1`).Scan(&id, &host); err != nil {
		return err
	}
	counted := func() (n int64) {
		_ = s.db.QueryRow(s.ctx, `SELECT coalesce(sum(count), 0) FROM usage_counts WHERE instance_id = $1 AND metric = 'requests'`, id).Scan(&n)
		return n
	}
	before := counted()
	var (
		mu       sync.Mutex
		oks      []time.Time
		sent     int
		killedAt time.Time
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		end := time.Now().Add(12 * time.Second)
		for time.Now().Before(end) {
			status, _, _ := get(s.routerURL+"/", host)
			mu.Lock()
			sent++
			if status == http.StatusOK {
				oks = append(oks, time.Now())
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := at(step{5 * time.Second, func() error {
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		s.router.kill()
		fmt.Println("   router SIGKILLed")
		return s.restart(s.router)
	}}); err != nil {
		return err
	}
	<-done
	if graceful := s.router.stop(20 * time.Second); !graceful {
		return fmt.Errorf("the router did not stop gracefully on SIGTERM")
	}
	if err := s.restart(s.router); err != nil {
		return err
	}
	after := counted()
	var window, served int
	var back time.Duration
	for _, t := range oks {
		if t.Before(killedAt) && t.After(killedAt.Add(-5*time.Second-time.Second)) {
			window++ // answered in the killed router's last flush window (and a second of slack)
		}
		if t.After(killedAt) && back == 0 {
			back = t.Sub(killedAt)
		}
	}
	served = len(oks)
	lost := int64(served) - (after - before)
	s.t.recovered("router-kill", back)
	fmt.Printf("   %d requests, %d served, %d counted; lost %d (the killed router's last window held %d); served again %s after the kill\n",
		sent, served, after-before, lost, window, back.Round(100*time.Millisecond))
	if lost > int64(window) || after-before > int64(sent) {
		return fmt.Errorf("metering lost %d requests (at most %d allowed) or counted more than were sent (%d > %d)", lost, window, after-before, sent)
	}
	return nil
}

// phaseWorkerTerm stops a worker with SIGTERM during enables: it finishes
// what it holds and hands its sticky queue back, so nothing waits for it.
func (s *suite) phaseWorkerTerm() error {
	w0 := s.workers[0]
	return s.enables("worker-term", 12*time.Second, func() error {
		return at(step{3 * time.Second, func() error {
			t0 := time.Now()
			if graceful := w0.stop(30 * time.Second); !graceful {
				return fmt.Errorf("worker-1 did not stop gracefully on SIGTERM")
			}
			fmt.Printf("   worker-1 stopped gracefully in %s\n", time.Since(t0).Round(100*time.Millisecond))
			time.Sleep(2 * time.Second)
			return s.restart(w0)
		}})
	})
}
