// Command billing measures how fast one billing period closes for many
// accounts through the engine (a BillingCycle workflow per account on the
// Temporal dev server, closing through the idempotent activity) beside the
// floor: the same invoice totals computed by one direct SQL pass over the
// control database, no Temporal, in the same run.
//
// Accounts, instances, module changes and discounts are written straight
// into the control database (no tenant databases are provisioned).
//
// With -cluster it closes the same accounts' period on the Temporal server
// persisted in PostgreSQL and then on the dev server, one after the other,
// and prints where the cluster's time went (its persistence and task
// metrics) and the CPU each invoice cost.
//
// The last line is key=value pairs for tooling:
//
//	invoices_per_s=… floor_invoices_per_s=… ratio=<floor/engine> n=… mismatches=…
//	invoices_per_s=… dev_invoices_per_s=… ratio=<cluster/dev> cpu_ms_per_invoice=… n=… mismatches=…   (-cluster)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/benchenv"
	"tenantry/internal/benchstat"
	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/config"
	"tenantry/internal/devstack"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

func main() {
	n := flag.Int("n", 2000, "accounts whose period closes")
	large := flag.Bool("large", false, "10,000 accounts (overrides -n)")
	cluster := flag.Bool("cluster", false, "close the same accounts on the Temporal server persisted in PostgreSQL, then on the dev server (default 10,000 accounts)")
	shards := flag.Int("shards", 4, "history shards of the cluster (-cluster)")
	conns := flag.Int("conns", 20, "the cluster's PostgreSQL connections (-cluster)")
	flag.BoolVar(&trace, "trace", false, "print how many invoices closed in each second after the boundary")
	flag.Parse()
	nSet := false
	flag.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })
	if *large || (*cluster && !nSet) {
		*n = 10000
	}
	var err error
	if *cluster {
		err = runBoth(*n, devstack.ClusterOptions{Shards: *shards, MaxConns: *conns})
	} else {
		err = run(*n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var trace bool

// length is the benchmark's period; the boundary is placed a little after
// every cycle has started.
const length = time.Hour

// run closes the period on the dev server beside the floor.
func run(n int) error {
	r, err := closePeriod(context.Background(), n, benchenv.Options{Temporal: benchenv.DevServer}, "dev server")
	if err != nil {
		return err
	}
	fmt.Printf("invoices_per_s=%.1f floor_invoices_per_s=%.1f ratio=%.2f n=%d mismatches=%d\n",
		r.rate, r.floorRate, r.floorRate/r.rate, n, r.mismatches)
	return nil
}

// runBoth closes the same accounts' period on the cluster, then on the dev
// server, one after the other, each on a fresh PostgreSQL; mismatches
// count invoices that differ from the floor in either run or between the
// runs.
func runBoth(n int, cluster devstack.ClusterOptions) error {
	ctx := context.Background()
	c, err := closePeriod(ctx, n, benchenv.Options{Temporal: benchenv.Cluster, Cluster: cluster},
		fmt.Sprintf("cluster, PostgreSQL, %d shards", max(cluster.Shards, 1)))
	if err != nil {
		return err
	}
	d, err := closePeriod(ctx, n, benchenv.Options{Temporal: benchenv.DevServer}, "dev server, SQLite")
	if err != nil {
		return err
	}
	mismatches := c.mismatches + d.mismatches
	for i := range n {
		if c.totals[i] != d.totals[i] {
			mismatches++
		}
	}
	perInvoice := func(r *closed) float64 { return float64(r.cpu.Milliseconds()) / float64(n) }
	fmt.Printf("CPU per invoice (Temporal server + worker + PostgreSQL, boundary → last invoice): cluster %.2f ms, dev server %.2f ms\n",
		perInvoice(c), perInvoice(d))
	fmt.Printf("invoices_per_s=%.1f dev_invoices_per_s=%.1f ratio=%.2f cpu_ms_per_invoice=%.2f n=%d mismatches=%d\n",
		c.rate, d.rate, c.rate/d.rate, perInvoice(c), n, mismatches)
	return nil
}

// closed is one run's outcome.
type closed struct {
	rate, floorRate float64
	// totals are the invoice totals by account index (seed order).
	totals     []int64
	mismatches int
	// cpu is the Temporal server's, this process's (the worker) and
	// PostgreSQL's CPU time from the boundary to the last invoice.
	cpu time.Duration
}

// closePeriod seeds n accounts on a fresh stack on the given Temporal
// server, starts their cycles, and measures the close of the period they
// all end at once.
func closePeriod(ctx context.Context, n int, opts benchenv.Options, label string) (*closed, error) {
	env, err := benchenv.Start(ctx, stack.Config{RunWorker: true, Config: config.Config{BillingPeriod: length},
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))}, opts)
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	s := env.Stack
	fmt.Printf("== %s\n", label)

	// Room to start every cycle and let it reach its timer before the
	// boundary, so the measurement holds the closes only.
	startMargin := 10*time.Second + time.Duration(n)*25*time.Millisecond
	boundary := time.Now().Add(startMargin).Truncate(time.Second)
	period := billing.Period{Start: boundary.Add(-length), End: boundary}

	t0 := time.Now()
	accounts, err := seed(ctx, s, n, period)
	if err != nil {
		return nil, err
	}
	fmt.Printf("seeded %d accounts (instances, module changes, discounts) in %s\n", n, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	if err := startCycles(ctx, s, accounts, period); err != nil {
		return nil, err
	}
	fmt.Printf("started %d BillingCycle workflows in %s; boundary in %s\n", n, time.Since(t0).Round(time.Millisecond),
		time.Until(boundary).Round(time.Millisecond))
	for {
		// The last cycle started is about the last to reach its timer.
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.BillingCycleID(accounts[len(accounts)-1]), "")
		if err != nil {
			return nil, err
		}
		if d.WorkflowExecutionInfo.HistoryLength >= 5 { // started, task scheduled/started/completed, timer started
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("every cycle waits on its timer %s before the boundary\n", time.Until(boundary).Round(time.Millisecond))
	if time.Now().After(boundary) {
		return nil, fmt.Errorf("the cycles reached their timers after the boundary: raise the start margin")
	}
	time.Sleep(time.Until(boundary))
	cpu0, err := stackCPU(env)
	if err != nil {
		return nil, err
	}
	var metrics0 benchstat.Metrics
	if env.Cluster != nil {
		if metrics0, err = benchstat.Scrape(env.Cluster.MetricsURL); err != nil {
			return nil, err
		}
	}

	// Wait for every invoice of the period.
	deadline := boundary.Add(10*time.Minute + time.Duration(n)*50*time.Millisecond)
	var count int
	for {
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE period_start = $1`, period.Start).Scan(&count); err != nil {
			return nil, err
		}
		if count >= n {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d invoices by %s", count, n, deadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res := &closed{}
	cpu1, err := stackCPU(env)
	if err != nil {
		return nil, err
	}
	res.cpu = cpu1.total() - cpu0.total()
	fmt.Printf("  CPU from the boundary to the last invoice: Temporal server %s, worker (this process) %s, PostgreSQL %s\n",
		(cpu1.server - cpu0.server).Round(time.Millisecond), (cpu1.worker - cpu0.worker).Round(time.Millisecond),
		(cpu1.postgres - cpu0.postgres).Round(time.Millisecond))
	if env.Cluster != nil {
		metrics1, err := benchstat.Scrape(env.Cluster.MetricsURL)
		if err != nil {
			return nil, err
		}
		whereTheTimeGoes(metrics0, metrics1)
	}
	var first, last time.Time
	if err := s.DB.QueryRow(ctx, `SELECT min(closed_at), max(closed_at) FROM invoices WHERE period_start = $1`, period.Start).
		Scan(&first, &last); err != nil {
		return nil, err
	}
	engine := last.Sub(boundary)
	if trace {
		rows, err := s.DB.Query(ctx, `SELECT floor(extract(epoch FROM closed_at - $2))::int, count(*) FROM invoices
			WHERE period_start = $1 GROUP BY 1 ORDER BY 1`, period.Start, boundary)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var sec, k int
			_ = rows.Scan(&sec, &k)
			fmt.Printf("  +%3ds %5d invoices\n", sec, k)
		}
		rows.Close()
		var lastAcc string
		if err := s.DB.QueryRow(ctx, `SELECT account_id::text FROM invoices WHERE period_start = $1 ORDER BY closed_at DESC LIMIT 1`,
			period.Start).Scan(&lastAcc); err != nil {
			return nil, err
		}
		showHistory(ctx, s, lastAcc, boundary)
	}
	res.rate = float64(n) / engine.Seconds()

	// The floor: the same totals in one SQL pass, no Temporal.
	t0 = time.Now()
	floorTotals, err := floor(ctx, s, period)
	if err != nil {
		return nil, err
	}
	floorDur := time.Since(t0)
	res.floorRate = float64(n) / floorDur.Seconds()

	engineTotals := map[string]int64{}
	var sum int64
	rows, err := s.DB.Query(ctx, `SELECT account_id::text, total_minor FROM invoices WHERE period_start = $1`, period.Start)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var total int64
		if err := rows.Scan(&id, &total); err != nil {
			return nil, err
		}
		engineTotals[id] = total
		sum += total
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	res.totals = make([]int64, n)
	for i, id := range accounts {
		et, ok := engineTotals[id]
		res.totals[i] = et
		if ft := floorTotals[id]; !ok || et != ft {
			res.mismatches++
			if res.mismatches <= 5 {
				fmt.Printf("  mismatch %s: engine %d, floor %d\n", id, et, ft)
			}
		}
	}
	var lines int
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.period_start = $1`,
		period.Start).Scan(&lines); err != nil {
		return nil, err
	}
	fmt.Printf("one period closed for %d accounts (%d explained lines, total %s EUR)\n", n, lines, billing.Money(sum))
	fmt.Printf("  %-44s first invoice +%s, last invoice +%s → %.1f invoices/s, %.2f ms CPU per invoice\n",
		"engine (BillingCycle workflows, "+label+"):",
		first.Sub(boundary).Round(time.Millisecond), engine.Round(time.Millisecond), res.rate, float64(res.cpu.Milliseconds())/float64(n))
	fmt.Printf("  %-44s %s → %.1f invoices/s (totals only)\n", "floor (one SQL pass, no Temporal):", floorDur.Round(time.Millisecond), res.floorRate)
	return res, nil
}

// cpuTimes are the CPU time used so far by the Temporal server, this
// process (the worker, and the benchmark's own polling) and PostgreSQL.
type cpuTimes struct{ server, worker, postgres time.Duration }

func (c cpuTimes) total() time.Duration { return c.server + c.worker + c.postgres }

func stackCPU(env *benchenv.Env) (cpuTimes, error) {
	var c cpuTimes
	var err error
	if c.server, err = benchstat.ProcessCPU(env.TemporalPID); err != nil {
		return c, err
	}
	if c.worker, err = benchstat.ProcessCPU(os.Getpid()); err != nil {
		return c, err
	}
	if env.Postgres != nil {
		if c.postgres, err = benchstat.TreeCPU(env.Postgres.PID()); err != nil {
			return c, err
		}
	}
	return c, nil
}

// whereTheTimeGoes prints the cluster's persistence calls and history
// tasks during the close, from its Prometheus metrics.
func whereTheTimeGoes(before, after benchstat.Metrics) {
	for _, m := range []struct{ metric, label, what string }{
		{"persistence_latency", "operation", "persistence calls"},
		{"task_latency_processing", "operation", "history tasks, processing"},
		{"task_latency_queue", "operation", "history tasks, time in queue"},
	} {
		sums := benchstat.HistogramDelta(before, after, m.metric, m.label)
		if len(sums) == 0 {
			continue
		}
		fmt.Printf("  %s (%s by %s, top 8 by total time):\n", m.what, m.metric, m.label)
		for i, g := range sums {
			if i == 8 {
				break
			}
			fmt.Printf("    %-48s %7.0f calls %8.2f ms mean %8.1f s total\n", g.Key, g.Count, 1000*g.Total/g.Count, g.Total)
		}
	}
}

// seed writes n accounts, each with one instance and a schedule of module
// changes over the period: some modules removed, others added, some
// instances disabled, one account in five with a 10 % discount.
func seed(ctx context.Context, s *stack.Stack, n int, p billing.Period) ([]string, error) {
	ids := make([]string, n)
	at := func(frac float64) time.Time { return p.Start.Add(time.Duration(frac * float64(length))) }
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		for i := range n {
			acc, err := billingtest.Account(ctx, tx, fmt.Sprintf("Bench %d", i))
			if err != nil {
				return err
			}
			ids[i] = acc
			service, extra, later := "forum", "search", "moderation"
			if i%2 == 1 {
				service, extra, later = "store", "coupons", "inventory"
			}
			// Some instances started before the period, some in it.
			begin := at(-0.5 + float64(i%7)/10)
			inst, err := billingtest.Instance(ctx, tx, acc, service, fmt.Sprintf("b%d.bench.localhost", i),
				[]string{"core", extra}, begin)
			if err != nil {
				return err
			}
			if i%3 == 0 { // a module removed mid-period
				if err := billingtest.Close(ctx, tx, inst, []string{extra}, at(0.3+float64(i%5)/100)); err != nil {
					return err
				}
			}
			if i%4 == 0 { // a module added mid-period
				if err := billingtest.Open(ctx, tx, inst, service, []string{later}, at(0.55)); err != nil {
					return err
				}
			}
			if i%10 == 9 { // disabled before the end
				if err := billingtest.Close(ctx, tx, inst, []string{"core", extra, later}, at(0.8)); err != nil {
					return err
				}
			}
			if i%5 == 2 {
				if _, err := tx.Exec(ctx, `INSERT INTO discounts (id, account_id, name, kind, percent_bp, valid_from)
					VALUES ($1, $2, 'bench', 'percent', 1000, $3)`, uuid.NewString(), acc, p.Start.Add(-length)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return ids, err
}

func startCycles(ctx context.Context, s *stack.Stack, accounts []string, p billing.Period) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(accounts) {
					return
				}
				if err := workflows.StartBillingCycle(ctx, s.Temporal, accounts[i], p, length); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// floor computes every account's total for the period in one SQL pass with
// the documented rounding (see internal/billing): each span clipped to the
// period in whole seconds, rounded half up per line, then account-wide
// percentage discounts rounded half up and capped at the subtotal.
func floor(ctx context.Context, s *stack.Stack, p billing.Period) (map[string]int64, error) {
	rows, err := s.DB.Query(ctx, `
		WITH clipped AS (
			SELECT i.account_id, s.hourly_rate_minor AS rate,
				date_trunc('second', greatest(s.started_at, $1)) AS f,
				date_trunc('second', least(coalesce(s.ended_at, $2), $2)) AS t
			FROM usage_spans s JOIN instances i ON i.id = s.instance_id
			WHERE s.started_at < $2 AND (s.ended_at IS NULL OR s.ended_at > $1)),
		sub AS (
			SELECT account_id, sum((2 * extract(epoch FROM t - f)::bigint * rate + 3600) / 7200)::bigint AS subtotal
			FROM clipped WHERE t > f GROUP BY account_id),
		disc AS (
			SELECT d.account_id, d.percent_bp FROM discounts d
			WHERE d.kind = 'percent' AND d.service IS NULL AND d.valid_from < $2
				AND (d.valid_until IS NULL OR d.valid_until > $1))
		SELECT a.id::text, coalesce(sub.subtotal, 0)
			- least(coalesce(sub.subtotal, 0), coalesce((2 * sub.subtotal * disc.percent_bp + 10000) / 20000, 0))
		FROM accounts a LEFT JOIN sub ON sub.account_id = a.id LEFT JOIN disc ON disc.account_id = a.id`,
		p.Start, p.End)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var total int64
		if err := rows.Scan(&id, &total); err != nil {
			return nil, err
		}
		out[id] = total
	}
	return out, rows.Err()
}

// showHistory prints the event times of an account's first cycle run,
// relative to the boundary: where a slow close spent its time.
func showHistory(ctx context.Context, s *stack.Stack, account string, boundary time.Time) {
	id := workflows.BillingCycleID(account)
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return
	}
	fmt.Println("  slowest close,", id, "first run:")
	it := s.Temporal.GetWorkflowHistory(ctx, id, d.WorkflowExecutionInfo.GetFirstRunId(), false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return
		}
		fmt.Printf("    %+9.3fs %s\n", e.GetEventTime().AsTime().Sub(boundary).Seconds(), e.GetEventType())
	}
}

// logLevel is Error unless BENCH_LOG=warn (to see retries and timeouts).
func logLevel() slog.Level {
	if os.Getenv("BENCH_LOG") == "warn" {
		return slog.LevelWarn
	}
	return slog.LevelError
}
