package stack_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"tenantry/internal/config"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Processes started together on an empty control database all come up:
// they migrate, sync and register one after the other, and the second
// finds the first's work done.
func TestStartTogetherOnEmptyDatabase(t *testing.T) {
	const n = 16
	url := testenv.NewDatabase(t, "boot_")
	key := secret.NewKey()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	errs := make([]error, n)
	stacks := make([]*stack.Stack, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Host routers: the part that needs no Temporal.
			stacks[i], errs[i] = stack.Start(context.Background(), stack.Config{Log: log, Config: config.Config{
				DatabaseURL: url, TenantServerURL: testenv.ServerURL(t), SecretKey: key, RouterListen: "127.0.0.1:0"}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
			continue
		}
		stacks[i].Stop()
	}
	s, err := stack.Start(context.Background(), stack.Config{Log: log, Config: config.Config{
		DatabaseURL: url, TenantServerURL: testenv.ServerURL(t), SecretKey: key, RouterListen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var servers, services int
	if err := s.DB.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM database_servers), (SELECT count(*) FROM services)`).
		Scan(&servers, &services); err != nil {
		t.Fatal(err)
	}
	if servers != 1 || services != len(s.Catalog.Names()) {
		t.Fatalf("servers=%d services=%d, want 1 and %d", servers, services, len(s.Catalog.Names()))
	}
}
