// Package benchenv starts the throwaway stack every bench command measures
// against: a RAM-backed PostgreSQL cluster (or DATABASE_URL), optionally a
// Temporal server (the CLI's dev server, or the real server persisted in
// that PostgreSQL), and Tenantry's own stack on top.
package benchenv

import (
	"context"
	"os"
	"path/filepath"

	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
)

// Temporal says which Temporal server a benchmark runs on.
type Temporal int

// The servers.
const (
	// NoTemporal starts none (the router benchmark).
	NoTemporal Temporal = iota
	// DevServer is the CLI's single-process dev server on SQLite.
	DevServer
	// Cluster is the real server persisted in the benchmark's PostgreSQL.
	Cluster
)

// Options are what a benchmark asks of its environment.
type Options struct {
	Temporal Temporal
	// Cluster tunes the cluster (shards, connections, dynamic config); its
	// module, database and state are filled in.
	Cluster devstack.ClusterOptions
}

// Env is a running benchmark stack.
type Env struct {
	Stack *stack.Stack
	// Cluster is the Temporal cluster when Options.Temporal is Cluster.
	Cluster *devstack.Cluster
	// Postgres is the private cluster (nil with DATABASE_URL).
	Postgres *devstack.Postgres
	// TemporalPID is the Temporal server process's (0 without one).
	TemporalPID int
	tmp         *devstack.Temporal
	state       string
}

// Start fills in cfg's database, secret key and Temporal address, and
// starts everything; the caller sets what it runs (worker, listeners,
// periods, log).
func Start(ctx context.Context, cfg stack.Config, opts Options) (*Env, error) {
	e := &Env{}
	var err error
	if e.state, err = devstack.ScratchDir("tenantry-bench-"); err != nil {
		return nil, err
	}
	cfg.DatabaseURL = os.Getenv("DATABASE_URL")
	if cfg.DatabaseURL == "" {
		if e.Postgres, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: e.state}); err != nil {
			e.Stop()
			return nil, err
		}
		cfg.DatabaseURL = e.Postgres.AdminURL
	}
	wd, _ := os.Getwd()
	switch opts.Temporal {
	case DevServer:
		if e.tmp, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{ModuleDir: devstack.ModuleDirFrom(wd),
			Namespace: cfg.Namespace()}); err != nil {
			e.Stop()
			return nil, err
		}
		cfg.Temporal.HostPort, e.TemporalPID = e.tmp.HostPort, e.tmp.PID()
	case Cluster:
		co := opts.Cluster
		co.ModuleDir, co.AdminURL, co.StateDir, co.Namespace = devstack.ModuleDirFrom(wd), cfg.DatabaseURL,
			filepath.Join(e.state, "temporal-cluster"), cfg.Namespace()
		if e.Cluster, err = devstack.StartTemporalCluster(ctx, co); err != nil {
			e.Stop()
			return nil, err
		}
		cfg.Temporal.HostPort, e.TemporalPID = e.Cluster.HostPort, e.Cluster.PID
	}
	cfg.SecretKey = secret.NewKey()
	if e.Stack, err = stack.Start(ctx, cfg); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops everything Start started, newest first, and removes the state.
func (e *Env) Stop() {
	if e.Stack != nil {
		e.Stack.Stop()
	}
	if e.tmp != nil {
		e.tmp.Stop()
	}
	if e.Cluster != nil {
		e.Cluster.Stop()
	}
	if e.Postgres != nil {
		e.Postgres.Stop()
	}
	_ = os.RemoveAll(e.state)
}
