package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"tenantry/internal/platform"
	"tenantry/web/console"
	"tenantry/worker"
)

// The Workers page says what each version's status means for its
// workers: a drained build's may stop, a stranded one's must come back,
// and only builds that are not current offer Make current.
func TestWorkersPageSaysWhenWorkersMayStop(t *testing.T) {
	now := time.Now()
	version := func(build, status string, pinned int64, polling bool) platform.WorkerVersion {
		v := platform.WorkerVersion{Version: worker.Version{BuildID: build, Status: status, CreatedAt: now, OpenPinned: pinned},
			MayStop: status == worker.StatusDrained, Stranded: pinned > 0 && !polling,
			SetCurrent: "go tool temporal worker deployment set-current-version --deployment-name tenantry --build-id " + build}
		if polling {
			v.Pollers = []worker.Poller{{Identity: "1@host", TaskQueue: "tenantry", Kind: "workflow", LastAccess: now}}
		}
		return v
	}
	render := func(versions ...platform.WorkerVersion) string {
		var b strings.Builder
		v := console.WorkersViewOf([]platform.WorkerDeployment{{Name: "tenantry", Current: "c", Versions: versions}}, now)
		if err := console.DevWorkersPage(console.Page{Title: "Workers"}, v).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	page := render(version("c", worker.StatusCurrent, 0, true), version("old", worker.StatusDrained, 0, true))
	if !strings.Contains(page, "Its workers may stop") || strings.Count(page, ">Make current<") != 1 ||
		!strings.Contains(page, "--build-id old") || strings.Contains(page, "--build-id c\n") {
		t.Fatalf("a current and a drained build:\n%s", page)
	}
	page = render(version("c", worker.StatusCurrent, 0, true), version("old", worker.StatusDraining, 3, false))
	if strings.Contains(page, "Its workers may stop") || !strings.Contains(page, "start a worker of this build") {
		t.Fatalf("a draining build without workers:\n%s", page)
	}
}
