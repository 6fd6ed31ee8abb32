// Command provision measures enable-to-ready latency through the real engine
// (Temporal dev server, worker, PostgreSQL) beside the floor: the very same
// activity code called directly in sequence, no Temporal, in the same run on
// the same database server; then both again with 8 tenants at once (the
// floor's throughput bounds what any engine could reach on this database).
//
// The last line is key=value pairs for tooling:
//
//	ratio=<p50/floor_p50> p50_ms=… floor_p50_ms=… p95_ms=… conc8_per_s=… floor_conc8_per_s=… n=…
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"tenantry/activities"
	"tenantry/internal/benchenv"
	"tenantry/internal/benchstat"
	"tenantry/internal/provisionfloor"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

func main() {
	n := flag.Int("n", 30, "tenants to enable sequentially (and again concurrently)")
	flag.BoolVar(&trace, "trace", false, "print every latency and the event timeline of one enable's workflows")
	conc := flag.Int("concurrency", 8, "tenants enabled at once in the concurrent round")
	flag.Parse()
	if err := run(*n, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conc int) error {
	ctx := context.Background()
	b, err := start(ctx)
	if err != nil {
		return err
	}
	defer b.stop()

	// Warm up both paths (connections, worker caches, catalog).
	for range 3 {
		if _, err := b.engine(ctx, "warm"); err != nil {
			return err
		}
		if _, err := b.floor(ctx, "warm"); err != nil {
			return err
		}
	}

	// Alternate engine and floor so drift on the machine hits both alike.
	var eng, flr []time.Duration
	for i := range n {
		d, err := b.engine(ctx, fmt.Sprintf("seq%d", i))
		if err != nil {
			return err
		}
		eng = append(eng, d)
		d, err = b.floor(ctx, fmt.Sprintf("flr%d", i))
		if err != nil {
			return err
		}
		flr = append(flr, d)
	}

	concLat, concWall, err := concurrently(n, conc, func(i int) (time.Duration, error) {
		return b.engine(ctx, fmt.Sprintf("conc%d", i))
	})
	if err != nil {
		return err
	}
	concPerS := float64(n) / concWall.Seconds()
	floorLat, floorWall, err := concurrently(n, conc, func(i int) (time.Duration, error) {
		return b.floor(ctx, fmt.Sprintf("fconc%d", i))
	})
	if err != nil {
		return err
	}
	floorPerS := float64(n) / floorWall.Seconds()

	if trace {
		fmt.Println("engine:", eng)
		fmt.Println("floor: ", flr)
	}
	fmt.Printf("enable → ready, %d tenants each (forum, 2 modules, setup sent up front)\n", n)
	fmt.Printf("  %-34s p50 %7.1f ms   p95 %7.1f ms   mean %7.1f ms\n", "engine (Temporal, sequential):", ms(pct(eng, 50)), ms(pct(eng, 95)), ms(mean(eng)))
	fmt.Printf("  %-34s p50 %7.1f ms   p95 %7.1f ms   mean %7.1f ms\n", "floor (same SQL, no Temporal):", ms(pct(flr, 50)), ms(pct(flr, 95)), ms(mean(flr)))
	fmt.Printf("  %-34s p50 %7.1f ms   p95 %7.1f ms   %.1f tenants/s\n", fmt.Sprintf("engine, %d at once:", conc), ms(pct(concLat, 50)), ms(pct(concLat, 95)), concPerS)
	fmt.Printf("  %-34s p50 %7.1f ms   p95 %7.1f ms   %.1f tenants/s\n", fmt.Sprintf("floor, %d at once:", conc), ms(pct(floorLat, 50)), ms(pct(floorLat, 95)), floorPerS)
	fmt.Printf("ratio=%.2f p50_ms=%.0f floor_p50_ms=%.0f p95_ms=%.0f conc%d_per_s=%.1f floor_conc%d_per_s=%.1f n=%d\n",
		float64(pct(eng, 50))/float64(pct(flr, 50)), ms(pct(eng, 50)), ms(pct(flr, 50)), ms(pct(eng, 95)), conc, concPerS, conc, floorPerS, n)
	return nil
}

// concurrently runs fn(0..n-1) with at most conc at once; it returns each
// call's latency and the wall time of the whole round.
func concurrently(n, conc int, fn func(i int) (time.Duration, error)) ([]time.Duration, time.Duration, error) {
	start := time.Now()
	var lat []time.Duration
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			lat = append(lat, d)
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

// trace prints where an enable's time goes: the server's event timeline.
var trace bool

type bench struct {
	env     *benchenv.Env
	s       *stack.Stack
	account string
	setup   activities.Setup
}

func start(ctx context.Context) (*bench, error) {
	env, err := benchenv.Start(ctx, stack.Config{RunWorker: true,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}, benchenv.Options{Temporal: benchenv.DevServer})
	if err != nil {
		return nil, err
	}
	b := &bench{env: env, s: env.Stack}
	b.account = uuid.NewString()
	user := uuid.NewString()
	hash := secret.HashPassword("benchmark password")
	if _, err := b.s.Acts.CreateAccount(ctx, activities.CreateAccountInput{AccountID: b.account, UserID: user,
		Email: "bench@tenantry.test", Name: "Bench", AccountName: "Bench", PasswordHash: hash}); err != nil {
		b.stop()
		return nil, err
	}
	b.setup = activities.Setup{AdminEmail: "admin@bench.test", AdminName: "Admin", AdminPasswordHash: hash, Language: "en"}
	return b, nil
}

func (b *bench) stop() { b.env.Stop() }

// engine enables one tenant through Temporal exactly as the API does
// (update-with-start, setup sent up front) and waits for it to be ready.
func (b *bench) engine(ctx context.Context, tag string) (time.Duration, error) {
	id := uuid.NewString()
	in := workflows.EnableInput{InstanceID: id, AccountID: b.account, Service: "forum",
		Modules: []string{"search", "moderation"}, Host: tag + "-" + id[:8] + ".bench.localhost", Setup: &b.setup}
	t0 := time.Now()
	if _, err := workflows.StartEnable(ctx, b.s.Temporal, in); err != nil {
		return 0, err
	}
	if err := b.s.Temporal.GetWorkflow(ctx, workflows.EnableID(id), "").Get(ctx, nil); err != nil {
		return 0, fmt.Errorf("enable %s: %w", id, err)
	}
	d := time.Since(t0)
	if trace && tag == "seq5" {
		for _, wid := range []string{workflows.EnableID(id), workflows.CreateDatabaseID(id)} {
			if err := benchenv.PrintTimeline(ctx, b.s.Temporal, wid, time.Time{}); err != nil {
				return 0, err
			}
		}
	}
	return d, nil
}

// floor runs the same activity code in the same order, directly.
func (b *bench) floor(ctx context.Context, tag string) (time.Duration, error) {
	id := uuid.NewString()
	t0 := time.Now()
	if _, err := provisionfloor.Provision(ctx, b.s.Acts, activities.ReserveInstanceInput{InstanceID: id, AccountID: b.account, Service: "forum",
		Modules: []string{"search", "moderation"}, Host: tag + "-" + id[:8] + ".bench.localhost"}, b.setup, time.Now()); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

var pct, mean, ms = benchstat.Pct, benchstat.Mean, benchstat.Ms
