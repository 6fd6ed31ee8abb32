// Command faults is the fault suite (go tool task test:faults): it runs
// Tenantry as separate real processes (PostgreSQL, the Temporal dev server
// from its database file, `tenantry web`, two `tenantry worker`s and a
// `tenantry router`, built once), injects one fault per phase while that
// phase's traffic runs, and then checks from the databases that nothing
// was lost, duplicated or orphaned.
//
// Phases: start (every process at once on an empty control database),
// worker-kill (workers SIGKILLed repeatedly during enables), billing-kill
// (workers SIGKILLed during the close of a few hundred accounts' period),
// postgres-crash (immediate shutdown and restart during enables),
// temporal-kill (the dev server SIGKILLed and restarted from its file
// during enables), router-kill (the router SIGKILLed during metered
// traffic), worker-term (a worker stopped with SIGTERM during enables: its
// sticky queue is handed back).
//
// The last line is key=value pairs:
//
//	accepted=… ready=… failed=… orphans=… dup_spans=… dup_invoices=… max_recovery_s=… phases=…
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"tenantry/internal/devstack"
	"tenantry/internal/secret"
)

func main() {
	flag.DurationVar(&every, "every", 600*time.Millisecond, "time between two enables of a phase's traffic")
	flag.IntVar(&billingAccounts, "accounts", 300, "accounts whose period closes in the billing-kill phase")
	keep := flag.Bool("keep", false, "keep the state directory (logs) afterwards")
	flag.Parse()
	s, err := newSuite()
	if err == nil {
		err = s.run()
	}
	if s != nil {
		s.close(*keep || err != nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

var (
	every           time.Duration
	billingAccounts int
)

// billingPeriod is every process's billing period in the suite, so a close
// happens while it runs.
const billingPeriod = time.Minute

type suite struct {
	ctx     context.Context
	dir     string
	bin     string
	env     []string
	pgOpts  devstack.PostgresOptions
	pg      *devstack.Postgres
	tmpOpts devstack.TemporalOptions
	tmp     *devstack.Temporal
	db      *pgxpool.Pool
	tc      client.Client

	webURL, routerURL string
	web, router       *proc
	workers           [2]*proc

	token  string // the enabling account's API token
	t      tally
	phases []string
}

func newSuite() (*suite, error) {
	s := &suite{ctx: context.Background()}
	var err error
	if s.dir, err = devstack.ScratchDir("tenantry-faults-"); err != nil {
		return nil, err
	}
	fmt.Println("state and logs in", s.dir)
	t0 := time.Now()
	s.bin = filepath.Join(s.dir, "tenantry")
	build := exec.Command("go", "build", "-o", s.bin, "./cmd/tenantry")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return s, fmt.Errorf("build tenantry: %w", err)
	}
	pgLog, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return s, err
	}
	// Durable: fsync and synchronous commits on, as in production. Without
	// them an immediate shutdown loses commits already acknowledged (a
	// MarkReady the workflow saw succeed), which no code can make up for.
	s.pgOpts = devstack.PostgresOptions{StateDir: filepath.Join(s.dir, "pg"), Log: pgLog, Durable: true}
	if s.pg, err = devstack.StartPostgres(s.ctx, s.pgOpts); err != nil {
		return s, err
	}
	tLog, err := os.Create(filepath.Join(s.dir, "temporal.log"))
	if err != nil {
		return s, err
	}
	wd, _ := os.Getwd()
	// Distinct ports for Temporal, the web server and the router.
	ports, err := devstack.FreePorts(3)
	if err != nil {
		return s, err
	}
	port, webPort, routerPort := ports[0], ports[1], ports[2]
	s.tmpOpts = devstack.TemporalOptions{ModuleDir: devstack.ModuleDirFrom(wd), DBFile: filepath.Join(s.dir, "temporal.db"), Port: port, Log: tLog}
	if s.tmp, err = devstack.StartTemporal(s.ctx, s.tmpOpts); err != nil {
		return s, err
	}
	if s.db, err = pgxpool.New(s.ctx, s.pg.AdminURL); err != nil {
		return s, err
	}
	if s.tc, err = client.Dial(client.Options{HostPort: s.tmp.HostPort, Logger: quiet()}); err != nil {
		return s, err
	}
	s.webURL, s.routerURL = fmt.Sprintf("http://127.0.0.1:%d", webPort), fmt.Sprintf("http://127.0.0.1:%d", routerPort)
	s.env = []string{"DATABASE_URL=" + s.pg.AdminURL, "TENANTRY_SECRET_KEY=" + secret.NewKey(),
		"TEMPORAL_ADDRESS=" + s.tmp.HostPort, "TENANTRY_BILLING_PERIOD=" + billingPeriod.String(),
		"TEMPORAL_CONFIG_FILE=" + filepath.Join(s.dir, "no-temporal.toml")}
	s.web = s.newProc("web", "web", fmt.Sprintf("TENANTRY_LISTEN=127.0.0.1:%d", webPort))
	s.router = s.newProc("router", "router", fmt.Sprintf("TENANTRY_ROUTER_LISTEN=127.0.0.1:%d", routerPort))
	s.workers[0], s.workers[1] = s.newProc("worker-1", "worker"), s.newProc("worker-2", "worker")
	fmt.Printf("built tenantry, started PostgreSQL and the dev server in %s\n", time.Since(t0).Round(time.Millisecond))
	return s, nil
}

func (s *suite) procs() []*proc { return []*proc{s.web, s.workers[0], s.workers[1], s.router} }

func (s *suite) run() error {
	for _, ph := range []struct {
		name string
		run  func() error
	}{
		{"start", s.phaseStart},
		{"worker-kill", s.phaseWorkerKill},
		{"billing-kill", s.phaseBillingKill},
		{"postgres-crash", s.phasePostgresCrash},
		{"temporal-kill", s.phaseTemporalKill},
		{"router-kill", s.phaseRouterKill},
		{"worker-term", s.phaseWorkerTerm},
	} {
		t0 := time.Now()
		fmt.Printf("== %s\n", ph.name)
		if err := ph.run(); err != nil {
			return fmt.Errorf("phase %s: %w", ph.name, err)
		}
		s.phases = append(s.phases, ph.name)
		fmt.Printf("   %s done in %s\n", ph.name, time.Since(t0).Round(100*time.Millisecond))
	}
	return s.check()
}

func (s *suite) close(keep bool) {
	for _, p := range s.procs() {
		if p != nil {
			p.stop(20 * time.Second)
		}
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.tmp != nil {
		s.tmp.Stop()
	}
	if s.pg != nil {
		s.pg.Stop()
	}
	if keep {
		fmt.Println("kept", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}

// waitUp waits until every process serves: the web answers /readyz, the
// router answers, each worker's heartbeat row carries its pid.
func (s *suite) waitUp(within time.Duration, ps ...*proc) error {
	deadline := time.Now().Add(within)
	for _, p := range ps {
		for !s.up(p) {
			if !p.alive() {
				return fmt.Errorf("%s exited: %s", p.name, p.tail(2000))
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not up after %s: %s", p.name, within, p.tail(2000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (s *suite) up(p *proc) bool {
	switch p {
	case s.web:
		status, _, _ := get(s.webURL+"/readyz", "")
		return status == 200
	case s.router:
		status, _, _ := get(s.routerURL+"/", "")
		return status == 404 // no such site: it answers
	default:
		var n int
		_ = s.db.QueryRow(s.ctx, `SELECT count(*) FROM process_heartbeats WHERE kind = 'worker' AND pid = $1`, p.pid()).Scan(&n)
		return n > 0
	}
}

func quiet() *slogLogger {
	return &slogLogger{slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
}

// slogLogger quiets the Temporal client's retries while the dev server is
// down.
type slogLogger struct{ l *slog.Logger }

func (l *slogLogger) Debug(string, ...any)      {}
func (l *slogLogger) Info(string, ...any)       {}
func (l *slogLogger) Warn(string, ...any)       {}
func (l *slogLogger) Error(m string, kv ...any) { l.l.Error(m, kv...) }
