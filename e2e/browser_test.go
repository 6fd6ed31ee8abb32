package e2e_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifacts is where the browser test leaves its screenshots (git-ignored).
const artifacts = "../artifacts/browser"

// newBrowser starts headless Debian chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser test needs Debian's chromium: apt-get install -y chromium")
	}
	// A profile of its own, removed after the browser has exited (not by
	// t.TempDir: chromium's helpers may still write to it for a moment).
	profile, err := os.MkdirTemp("", "tenantry-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1200, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shot saves a full-page screenshot under artifacts/.
func shot(name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var buf []byte
		if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
			return err
		}
		if err := os.MkdirAll(artifacts, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(artifacts, name+".png"), buf, 0o644)
	})
}

// TestBrowserJourney is a person in a real browser: sign up → enable forum
// with two modules → watch the progress → setup (a refused one first) →
// ready → change modules → disable → enable again → disable, then the
// developers' pages.
func TestBrowserJourney(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := newBrowser(t)
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		step, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Run(step, actions...); err != nil {
			_ = chromedp.Run(ctx, shot("failed"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	var text, estimate, url string

	run("sign up",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(`a[href="/signup"]`, chromedp.ByQuery),
		chromedp.Click(`a[href="/signup"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "grace@hopper.test", chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Grace Hopper", chromedp.ByQuery),
		chromedp.SendKeys(`#account_name`, "Hopper Labs", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, "a very long password", chromedp.ByQuery),
		shot("01-signup"),
		chromedp.Submit(`#password`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="/enable"]`, chromedp.ByQuery),
		chromedp.Text(`main`, &text, chromedp.ByQuery),
		shot("02-dashboard-empty"),
	)
	if !strings.Contains(text, "You run no service yet") {
		t.Fatalf("dashboard after signup: %q", text)
	}

	run("enable forum with two modules",
		chromedp.Navigate(s.URL+"/enable"),
		chromedp.WaitVisible(`input[name=service][value=forum]`, chromedp.ByQuery),
		chromedp.Click(`input[name=service][value=forum]`, chromedp.ByQuery),
		chromedp.Click(`input[name="modules.forum"][value=search]`, chromedp.ByQuery),
		chromedp.Click(`input[name="modules.forum"][value=moderation]`, chromedp.ByQuery),
		chromedp.SendKeys(`#host`, "hopper-forum.localhost", chromedp.ByQuery),
		// core 4 + search 2 + moderation 1 cents an hour × 720 hours.
		chromedp.Poll(`document.getElementById("estimate").textContent.trim() === "EUR 50.40"`, nil,
			chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text(`#estimate`, &estimate, chromedp.ByQuery),
		shot("03-enable"),
		chromedp.Submit(`#host`, chromedp.ByQuery),
		chromedp.WaitVisible(`#progress`, chromedp.ByQuery),
		shot("04-progress"),
		chromedp.WaitVisible(`#setup-link`, chromedp.ByQuery),
		shot("05-waiting-for-setup"),
		chromedp.Location(&url),
	)
	t.Logf("estimate %s, instance page %s", estimate, url)

	run("setup refused, then accepted",
		chromedp.Click(`#setup-link`, chromedp.ByQuery),
		chromedp.WaitVisible(`#admin_email`, chromedp.ByQuery),
		chromedp.SendKeys(`#admin_email`, "admin@hopper.test", chromedp.ByQuery),
		chromedp.SendKeys(`#admin_name`, "Forum Admin", chromedp.ByQuery),
		chromedp.SendKeys(`#admin_password`, "short", chromedp.ByQuery),
		chromedp.Submit(`#admin_password`, chromedp.ByQuery),
		chromedp.WaitVisible(`.error`, chromedp.ByQuery),
		chromedp.Text(`.error`, &text, chromedp.ByQuery),
		shot("06-setup-refused"),
	)
	if !strings.Contains(text, "password") {
		t.Fatalf("a short admin password was refused with %q", text)
	}
	run("setup accepted, instance ready",
		chromedp.SendKeys(`#admin_password`, "a long admin secret", chromedp.ByQuery),
		chromedp.SetValue(`#language`, "de", chromedp.ByQuery),
		chromedp.Submit(`#admin_password`, chromedp.ByQuery),
		chromedp.WaitVisible(`#instance-status.status-ready`, chromedp.ByQuery),
		shot("07-ready"),
	)

	run("change modules",
		chromedp.Click(`input[name=modules][value=moderation]`, chromedp.ByQuery),
		chromedp.Click(`input[name=modules][value=attachments]`, chromedp.ByQuery),
		chromedp.Click(`//button[text()="Change modules"]`, chromedp.BySearch),
		chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		shot("08-modules-changing"),
		chromedp.WaitVisible(`//h2[contains(., "Module change")]/span[contains(@class, "status-completed")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#instance-status.status-ready`, chromedp.ByQuery),
		shot("09-modules-changed"),
	)
	var modules []string
	if err := s.DB.QueryRow(context.Background(), `SELECT modules FROM instances WHERE host = 'hopper-forum.localhost'`).
		Scan(&modules); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(modules, []string{"core", "search", "attachments"}) {
		t.Fatalf("modules after the change: %v", modules)
	}

	run("disable",
		chromedp.Text(`//form[.//button[contains(., "Disable")]]`, &text, chromedp.BySearch),
		chromedp.Click(`//button[contains(., "Disable")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#instance-status.status-disabled`, chromedp.ByQuery),
		chromedp.WaitVisible(`//button[contains(., "again")]`, chromedp.BySearch),
		shot("10-disabled"),
	)
	if !strings.Contains(text, "The data is kept for 1h0m0s") {
		t.Fatalf("the disable form does not tell the grace period: %q", text)
	}
	run("enable again within the grace, then disable",
		chromedp.Click(`//button[contains(., "again")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#instance-status.status-ready`, chromedp.ByQuery),
		shot("11-enabled-again"),
		chromedp.Click(`//button[contains(., "Disable")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#instance-status.status-disabled`, chromedp.ByQuery),
		chromedp.WaitVisible(`//button[contains(., "again")]`, chromedp.BySearch),
	)
	run("dashboard",
		chromedp.Navigate(s.URL+"/dashboard"),
		chromedp.Text(`main`, &text, chromedp.ByQuery),
		shot("12-dashboard"),
	)
	if !strings.Contains(text, "hopper-forum.localhost") || !strings.Contains(text, "disabled") {
		t.Fatalf("dashboard: %q", text)
	}

	// A platform developer sees every account's instances and their workflows.
	// The operator's `tenantry grant --email … --role developer`.
	if _, err := s.Platform.BootstrapPlatformRole(context.Background(), "grace@hopper.test", "developer"); err != nil {
		t.Fatal(err)
	}
	run("developer pages",
		chromedp.Navigate(s.URL+"/dev?service=forum&status=disabled"),
		chromedp.WaitVisible(`//a[text()="hopper-forum.localhost"]`, chromedp.BySearch),
		shot("13-dev-instances"),
		chromedp.Click(`//a[text()="hopper-forum.localhost"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//code[starts-with(text(), "enable/")]`, chromedp.BySearch),
		chromedp.Text(`main`, &text, chromedp.ByQuery),
		shot("14-dev-instance-workflows"),
		chromedp.Navigate(s.URL+"/dev/problems"),
		chromedp.WaitVisible(`//h2[text()="Stuck"]`, chromedp.BySearch),
		chromedp.Navigate(s.URL+"/dev/catalog"),
		chromedp.WaitVisible(`//li[starts-with(text(), "forum.moderate")]`, chromedp.BySearch),
		chromedp.Click(`//a[text()="Billing"][starts-with(@href, "/dev")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//h2[text()="Failed closes"]`, chromedp.BySearch),
		shot("15-dev-billing"),
		// The Workers page: this stack's one build, current.
		chromedp.Click(`//a[text()="Workers"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-status="current"]`, chromedp.BySearch),
		shot("16-dev-workers"),
	)
	// A rollout of forum 1.2.0 from the rollouts page: the disabled forum
	// (in its grace period) is upgraded in place; the page follows it live.
	var rollout string
	run("rollout page",
		chromedp.Navigate(s.URL+"/dev"),
		chromedp.Click(`//a[text()="Rollouts"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#target`, chromedp.ByQuery),
		chromedp.SetValue(`#target`, "forum 1.2.0", chromedp.ByQuery),
		chromedp.SendKeys(`#batch_size`, "2", chromedp.ByQuery),
		chromedp.Click(`input[name=auto_approve]`, chromedp.ByQuery),
		shot("16-rollouts"),
		chromedp.Submit(`#target`, chromedp.ByQuery),
		chromedp.WaitVisible(`#rollout`, chromedp.ByQuery),
		chromedp.WaitVisible(`#rollout-processes`, chromedp.ByQuery),
		shot("17-rollout-running"),
		chromedp.WaitVisible(`#rollout-outcome`, chromedp.ByQuery),
		chromedp.Text(`main`, &rollout, chromedp.ByQuery),
		shot("18-rollout-done"),
	)
	for _, want := range []string{"forum → 1.2.0", "completed", "1 instances to move", "Every live process can serve the target", "released"} {
		if !strings.Contains(rollout, want) {
			t.Errorf("the rollout page lacks %q: %s", want, rollout)
		}
	}
	for _, want := range []string{"database/", "modules/", "disable/", "go tool temporal workflow describe --workflow-id enable/", "--type FirstWorkflowTask"} {
		if !strings.Contains(text, want) {
			t.Errorf("the developer's instance page lacks %q", want)
		}
	}
}
