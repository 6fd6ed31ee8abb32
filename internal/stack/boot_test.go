package stack_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
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

// The admin listener serves Prometheus metrics (the router's own among
// them), liveness and readiness, apart from the tenants' listener.
func TestAdminListener(t *testing.T) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := stack.Start(context.Background(), stack.Config{Log: log, Config: config.Config{
		DatabaseURL: testenv.NewDatabase(t, "admin_"), TenantServerURL: testenv.ServerURL(t), SecretKey: secret.NewKey(),
		RouterListen: "127.0.0.1:0", AdminListen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.AdminURL == "" || s.AdminURL == s.RouterURL {
		t.Fatalf("admin %q router %q", s.AdminURL, s.RouterURL)
	}
	if resp, err := http.Get(s.RouterURL + "/"); err == nil { // an unknown host: a lookup
		resp.Body.Close()
	}
	body := fetch(t, s.AdminURL+"/metrics", http.StatusOK)
	for _, want := range []string{"go_goroutines", `tenantry_router_host_lookups_total{result="miss"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	fetch(t, s.AdminURL+"/healthz", http.StatusOK)
	if body := fetch(t, s.AdminURL+"/readyz", http.StatusOK); !strings.Contains(body, `"postgres":"ok"`) {
		t.Errorf("/readyz: %s", body)
	}
	fetch(t, s.RouterURL+"/metrics", http.StatusNotFound) // not on the tenants' listener
}

func fetch(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, b)
	}
	return string(b)
}
