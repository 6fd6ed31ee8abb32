package e2e_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenantry/activities"
	"tenantry/internal/config"
	"tenantry/internal/secret"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
)

// startRouterProcess runs the built `tenantry router` as a process of its
// own against the stack's control database, and returns its base URL.
func startRouterProcess(t *testing.T, bin string, cfg stack.Config) string {
	t.Helper()
	cmd := tenantryProcess(bin, "router", cfg, "TENANTRY_ROUTER_LISTEN=127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, cmd)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "host router on "); ok {
				found <- u
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("tenantry router did not start")
		return ""
	}
}

// tenantryProcess is the built tenantry command joining the stack of cfg
// (control database, key, Temporal server) with more settings in env.
func tenantryProcess(bin, command string, cfg stack.Config, env ...string) *exec.Cmd {
	cmd := tenantryCommand(bin, cfg, command)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// tenantryCommand is the built tenantry command with args, in the
// environment of the stack of cfg.
func tenantryCommand(bin string, cfg stack.Config, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+cfg.DatabaseURL, "TENANT_SERVER_URL="+cfg.TenantServerURL,
		secret.KeyEnv+"="+cfg.SecretKey, "TEMPORAL_ADDRESS="+cfg.Temporal.HostPort)
	return cmd
}

// startProcess starts cmd and stops it (SIGTERM) when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
}

// buildTenantry builds the tenantry command once for the test.
func buildTenantry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tenantry")
	cmd := exec.Command("go", "build", "-o", bin, "tenantry/cmd/tenantry")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build tenantry: %v", err)
	}
	return bin
}

// TestTenantsServedByTwoRouterProcesses provisions two forums and a store
// through the API and the real workflows, then serves them through two
// separate `tenantry router` processes.
func TestTenantsServedByTwoRouterProcesses(t *testing.T) {
	bin := buildTenantry(t)
	s, cfg := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}})
	routers := []string{startRouterProcess(t, bin, cfg), startRouterProcess(t, bin, cfg)}
	a := signupAndLogin(t, s.URL, "owner@routed.test")

	enable := func(service, host, lang string) string {
		var inst instance
		a.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": service, "host": host,
			"setup": map[string]string{"admin_email": "admin@" + host, "admin_name": "Admin",
				"admin_password": "a long admin secret", "language": lang}}, &inst)
		return inst.ID
	}
	forumA := enable("forum", "alpha-forum.localhost", "en")
	forumB := enable("forum", "beta-forum.localhost", "de")
	storeC := enable("store", "gamma-store.localhost", "en")
	for _, id := range []string{forumA, forumB, storeC} {
		waitStatus(t, a, "/instances/"+id, "ready")
	}
	on := func(router int, host string) *testenv.Browser {
		return &testenv.Browser{T: t, Base: routers[router], Host: host}
	}
	statusOnBoth := func(host, path string) [2]int {
		return [2]int{on(0, host).Get(path).Status, on(1, host).Get(path).Status}
	}

	// A member registers through one router; the session is in alpha's
	// database, so the other router knows it too.
	eve := on(0, "alpha-forum.localhost")
	if r := eve.Post("/register", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}, "password": {"a long enough password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	eve.Base = routers[1]
	if r := eve.Post("/b/general/threads", url.Values{"title": {"Only on alpha"}, "body": {"alpha's own words"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("new thread: %d %s", r.Status, r.Body)
	}
	on(0, "alpha-forum.localhost").MustSee("/b/general", "Only on alpha")
	if strings.Contains(on(1, "beta-forum.localhost").MustSee("/b/general", "Anmelden"), "Only on alpha") {
		t.Fatal("beta sees alpha's thread")
	}
	on(0, "gamma-store.localhost").MustSee("/", "Welcome mug")
	if got := statusOnBoth("beta-forum.localhost", "/search"); got != [2]int{404, 404} {
		t.Fatalf("search before it is enabled: %v", got)
	}

	// Enabling search through the API shows it on both processes, no restart.
	a.must(http.StatusAccepted, "PUT", "/instances/"+forumB+"/modules", map[string]any{"modules": []string{"search"}}, nil)
	eventually(t, 20*time.Second, "search on both router processes", func() bool {
		return statusOnBoth("beta-forum.localhost", "/search") == [2]int{200, 200}
	})

	// Maintenance (set by rollouts) and disabling answer as specified.
	if err := s.Acts.SetMaintenance(context.Background(), activities.MaintenanceInput{InstanceID: storeC, On: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "maintenance on both", func() bool { return statusOnBoth("gamma-store.localhost", "/") == [2]int{503, 503} })
	if ra := on(1, "gamma-store.localhost").Get("/").Header.Get("Retry-After"); ra == "" {
		t.Fatal("maintenance answer has no Retry-After")
	}
	a.must(http.StatusAccepted, "DELETE", "/instances/"+forumA, nil, nil)
	eventually(t, 20*time.Second, "disabled on both", func() bool { return statusOnBoth("alpha-forum.localhost", "/") == [2]int{410, 410} })
	if got := statusOnBoth("nobody.localhost", "/"); got != [2]int{404, 404} {
		t.Fatalf("unknown host: %v", got)
	}

	// The routers' request counts reach the client's view of the instance.
	eventually(t, 20*time.Second, "metered usage in the API", func() bool {
		var v struct {
			Usage struct{ Counts map[string]int64 }
		}
		a.must(http.StatusOK, "GET", "/instances/"+forumA, nil, &v)
		return v.Usage.Counts["requests"] >= 3
	})
}
