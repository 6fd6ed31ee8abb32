// Command rollout measures a rollout of forum 1.0.0 → 1.2.0 over N
// instances through the real engine (Temporal dev server, worker,
// PostgreSQL), at most 4 upgrades in flight, beside the floor: the very
// same migrations run directly on N other instances seeded alike, no
// Temporal, their total time divided by the parallelism. Each instance is
// seeded with -posts posts before, so its migration does real work of a
// known size (1.1.0 adds a generated tsvector column to every post and
// builds a GIN index over it; 1.2.0 adds a column and rebuilds an index).
//
// The floor assumes the machine runs that many migrations at once at full
// speed. They are CPU-bound in PostgreSQL, so with fewer cores than
// upgrades in flight no engine reaches it: the line "direct migrations, k
// at once" runs them k at a time with no Temporal, which is what the
// machine allows, and says how the engine compares to it.
//
// The last line is key=value pairs for tooling:
//
//	ratio=<total/floor> total_s=… floor_s=… maint_p95_ms=… migrate_p95_ms=… failed=… n=…
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/activities"
	"tenantry/internal/benchenv"
	"tenantry/internal/benchstat"
	"tenantry/internal/controldb"
	"tenantry/internal/provisionfloor"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

func main() {
	n := flag.Int("n", 40, "instances rolled out (and as many for the floor)")
	posts := flag.Int("posts", 20000, "posts seeded into each instance before the rollout")
	inFlight := flag.Int("in-flight", 4, "upgrades at once (the floor divides by it)")
	flag.BoolVar(&trace, "trace", false, "print the event timeline of one instance's upgrade and migration")
	flag.Parse()
	if err := run(*n, *posts, *inFlight); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// trace: print one upgrade's timeline (-trace).
var trace bool

func run(n, posts, inFlight int) error {
	ctx := context.Background()
	env, err := benchenv.Start(ctx, stack.Config{RunWorker: true,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}, benchenv.Options{Temporal: benchenv.DevServer})
	if err != nil {
		return err
	}
	defer env.Stop()
	s := env.Stack

	fmt.Printf("provisioning %d forum 1.0.0 instances with %d posts each ...\n", 3*n, posts)
	rolled, floor, par, err := provision(ctx, s, n, posts)
	if err != nil {
		return err
	}

	// The floor: the same migrations, directly, one after another; half
	// before the rollout and half after, so the machine's drift (other
	// work on it) weighs on both alike.
	var direct []time.Duration
	migrateDirectly := func(ids []string) error {
		for _, id := range ids {
			t0 := time.Now()
			if err := s.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: id, Version: "1.2.0"}); err != nil {
				return fmt.Errorf("floor migration: %w", err)
			}
			direct = append(direct, time.Since(t0))
		}
		return nil
	}
	if err := migrateDirectly(floor[:n/2]); err != nil {
		return err
	}
	// The rollout, watched as the routers see it: maintenance on and off.
	watch := watchMaintenance(ctx, s, rolled)
	in := workflows.RolloutInput{RolloutID: uuid.NewString(), Service: "forum", Version: "1.2.0",
		Options: workflows.RolloutOptions{BatchSize: min(n, workflows.MaxRolloutBatchSize), MaxInFlight: inFlight,
			FailureThresholdPercent: 100, AutoApprove: true}}
	t0 := time.Now()
	wid, err := workflows.StartRollout(ctx, s.Temporal, in)
	if err != nil {
		return err
	}
	var res workflows.RolloutResult
	if err := s.Temporal.GetWorkflow(ctx, wid, "").Get(ctx, &res); err != nil {
		return err
	}
	total := time.Since(t0)
	maint := watch.stop()
	if err := migrateDirectly(floor[n/2:]); err != nil {
		return err
	}
	var sum time.Duration
	for _, d := range direct {
		sum += d
	}
	floorTotal := sum / time.Duration(inFlight)
	// For context: the same migrations run inFlight at a time, directly,
	// on n more instances (what this machine's cores allow).
	parallel, err := directInParallel(ctx, s, par, inFlight)
	if err != nil {
		return err
	}

	var migrate []time.Duration
	for _, id := range rolled {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MigrateAndSeedID(id, "1.2.0"), "")
		if err != nil {
			return err
		}
		info := d.GetWorkflowExecutionInfo()
		migrate = append(migrate, info.GetCloseTime().AsTime().Sub(info.GetStartTime().AsTime()))
	}
	if trace {
		id := rolled[len(rolled)/2]
		for _, wid := range []string{wid, workflows.UpgradeInstanceID(id, "1.2.0"), workflows.MigrateAndSeedID(id, "1.2.0")} {
			if err := benchenv.PrintTimeline(ctx, s.Temporal, wid, t0); err != nil {
				return err
			}
		}
	}
	if len(maint) == 0 {
		return errors.New("no instance was seen in maintenance")
	}
	if done := res.Counts.Done + res.Counts.Failed; done != n {
		return fmt.Errorf("the rollout moved %d instances, not %d", done, n)
	}

	fmt.Printf("rollout of forum 1.0.0 → 1.2.0 over %d instances (%d posts each), %d in flight, batches of %d after a canary\n",
		n, posts, inFlight, in.Options.BatchSize)
	fmt.Printf("  %-40s %7.2f s (%s)\n", "engine, plan to release:", total.Seconds(), res.Outcome)
	fmt.Printf("  %-40s %7.2f s (sum %.2f s / %d)\n", "floor, direct migrations / parallelism:", floorTotal.Seconds(), sum.Seconds(), inFlight)
	fmt.Printf("  %-40s %7.2f s (the engine took %.2f× as long)\n", fmt.Sprintf("direct migrations, %d at once:", inFlight),
		parallel.Seconds(), total.Seconds()/parallel.Seconds())
	fmt.Printf("  %-40s p50 %7.1f ms   p95 %7.1f ms\n", "direct migration, each:", ms(pct(direct, 50)), ms(pct(direct, 95)))
	fmt.Printf("  %-40s p50 %7.1f ms   p95 %7.1f ms\n", "migration in the rollout (MigrateAndSeed):", ms(pct(migrate, 50)), ms(pct(migrate, 95)))
	fmt.Printf("  %-40s p50 %7.1f ms   p95 %7.1f ms   (%d instances seen)\n", "maintenance, as the routers see it:", ms(pct(maint, 50)), ms(pct(maint, 95)), len(maint))
	fmt.Printf("ratio=%.2f total_s=%.2f floor_s=%.2f maint_p95_ms=%.0f migrate_p95_ms=%.0f failed=%d n=%d\n",
		total.Seconds()/floorTotal.Seconds(), total.Seconds(), floorTotal.Seconds(), ms(pct(maint, 95)), ms(pct(migrate, 95)),
		res.Counts.Failed, n)
	return nil
}

// provision makes 3n forum 1.0.0 instances, each with posts posts: n
// are rolled out, n migrated directly one by one for the floor, and n
// migrated directly inFlight at a time.
func provision(ctx context.Context, s *stack.Stack, n, posts int) (rolled, floor, par []string, err error) {
	account, user := uuid.NewString(), uuid.NewString()
	hash := secret.HashPassword("benchmark password")
	if _, err := s.Acts.CreateAccount(ctx, activities.CreateAccountInput{AccountID: account, UserID: user,
		Email: "bench@tenantry.test", Name: "Bench", AccountName: "Bench", PasswordHash: hash}); err != nil {
		return nil, nil, nil, err
	}
	setup := activities.Setup{AdminEmail: "admin@bench.test", AdminName: "Admin", AdminPasswordHash: hash, Language: "en"}
	sets := []*[]string{&rolled, &floor, &par}
	for i := range 3 * n {
		id := uuid.NewString()
		if _, err := provisionfloor.Provision(ctx, s.Acts, activities.ReserveInstanceInput{InstanceID: id, AccountID: account,
			Service: "forum", Modules: []string{"search", "attachments"}, Host: id[:8] + ".bench.localhost"}, setup, time.Now()); err != nil {
			return nil, nil, nil, err
		}
		if err := seedPosts(ctx, s, id, posts); err != nil {
			return nil, nil, nil, err
		}
		*sets[i/n] = append(*sets[i/n], id)
	}
	// Bench only: the floor's instances are marked failed so the rollout,
	// which moves every ready instance, leaves them to the floor.
	if _, err := s.DB.Exec(ctx, `UPDATE instances SET status = 'failed' WHERE id = ANY($1)`, append(floor, par...)); err != nil {
		return nil, nil, nil, err
	}
	return rolled, floor, par, nil
}

// directInParallel migrates ids directly, at most k at once; it returns
// the wall time.
func directInParallel(ctx context.Context, s *stack.Stack, ids []string, k int) (time.Duration, error) {
	t0 := time.Now()
	sem := make(chan struct{}, k)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs <- s.Acts.MigrateTenant(ctx, activities.MigrateInput{InstanceID: id, Version: "1.2.0"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// seedPosts writes posts posts of a few dozen words into one thread of the
// instance's database (bench only: the forum's own pages write them one by
// one).
func seedPosts(ctx context.Context, s *stack.Stack, id string, posts int) error {
	cfg, _, err := controldb.TenantConfig(ctx, s.DB, s.Acts.Cipher, s.Acts.Catalog, id)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		WITH b AS (INSERT INTO boards (slug, title) VALUES ('bench', 'Bench') ON CONFLICT (slug) DO UPDATE SET title = 'Bench' RETURNING id),
		m AS (SELECT id FROM members ORDER BY id LIMIT 1),
		t AS (INSERT INTO threads (board_id, author_id, title) SELECT b.id, m.id, 'Bench thread' FROM b, m RETURNING id, author_id)
		INSERT INTO posts (thread_id, author_id, body)
		SELECT t.id, t.author_id, 'post ' || g || ' about ' || md5(g::text) || ' and the quick brown fox jumps over the lazy dog ' || (g % 97)
		FROM t, generate_series(1, $1) g`, posts)
	return err
}

// maintenanceWatch samples the instances' maintenance flags every 10 ms
// and measures, per instance, how long it was seen in maintenance.
type maintenanceWatch struct {
	done  chan struct{}
	wg    sync.WaitGroup
	first map[string]time.Time
	last  map[string]time.Time
}

const sampleEvery = 10 * time.Millisecond

func watchMaintenance(ctx context.Context, s *stack.Stack, ids []string) *maintenanceWatch {
	w := &maintenanceWatch{done: make(chan struct{}), first: map[string]time.Time{}, last: map[string]time.Time{}}
	w.wg.Go(func() {
		for {
			select {
			case <-w.done:
				return
			case <-time.After(sampleEvery):
			}
			rows, err := s.DB.Query(ctx, `SELECT id::text FROM instances WHERE id = ANY($1) AND maintenance`, ids)
			if err != nil {
				continue
			}
			now := time.Now()
			on, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				continue
			}
			for _, id := range on {
				if _, ok := w.first[id]; !ok {
					w.first[id] = now
				}
				w.last[id] = now
			}
		}
	})
	return w
}

// stop ends the sampling and returns each instance's time in maintenance
// (last seen − first seen, plus one sampling interval).
func (w *maintenanceWatch) stop() []time.Duration {
	close(w.done)
	w.wg.Wait()
	var out []time.Duration
	for id, first := range w.first {
		out = append(out, w.last[id].Sub(first)+sampleEvery)
	}
	return out
}

var pct, ms = benchstat.Pct, benchstat.Ms
