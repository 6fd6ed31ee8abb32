// Package benchenv starts the throwaway stack every bench command measures
// against: a RAM-backed PostgreSQL cluster (or DATABASE_URL), optionally the
// Temporal dev server, and Tenantry's own stack on top.
package benchenv

import (
	"context"
	"os"

	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
)

// Env is a running benchmark stack.
type Env struct {
	Stack *stack.Stack
	pg    *devstack.Postgres
	tmp   *devstack.Temporal
	state string
}

// Start fills in cfg's database, secret key and (withTemporal) Temporal
// address, and starts everything; the caller sets what it runs (worker,
// listeners, periods, log).
func Start(ctx context.Context, cfg stack.Config, withTemporal bool) (*Env, error) {
	e := &Env{}
	var err error
	if e.state, err = devstack.ScratchDir("tenantry-bench-"); err != nil {
		return nil, err
	}
	cfg.DatabaseURL = os.Getenv("DATABASE_URL")
	if cfg.DatabaseURL == "" {
		if e.pg, err = devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: e.state}); err != nil {
			e.Stop()
			return nil, err
		}
		cfg.DatabaseURL = e.pg.AdminURL
	}
	if withTemporal {
		wd, _ := os.Getwd()
		if e.tmp, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{ModuleDir: devstack.ModuleDirFrom(wd),
			Namespace: cfg.Namespace()}); err != nil {
			e.Stop()
			return nil, err
		}
		cfg.Temporal.HostPort = e.tmp.HostPort
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
	if e.pg != nil {
		e.pg.Stop()
	}
	_ = os.RemoveAll(e.state)
}
