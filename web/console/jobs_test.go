package console_test

import (
	"context"
	"strings"
	"testing"

	"tenantry/web/console"
)

// The jobs part shows a held run as held by its rollout and keeps polling
// while a run is unfinished; without runs left it stops.
func TestJobsPart(t *testing.T) {
	render := func(v console.JobsView) string {
		var b strings.Builder
		if err := console.Jobs(v).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	v := console.JobsView{InstanceID: "i1", Service: "forum", Version: "1.0.0", CanStart: true, Live: true,
		Available: []console.JobChoice{{Name: "refresh_board_stats", Title: "Refresh the board statistics"}},
		Runs: []console.JobRow{{ID: "r1", Title: "Refresh the board statistics", CodeOf: "1.0.0 (schema 1)", Status: "held",
			StatusText: "held by rollout rollout/forum/1.2.0"}}}
	html := render(v)
	for _, want := range []string{`hx-get="/instances/i1/jobs"`, `action="/instances/i1/jobs"`, "held by rollout rollout/forum/1.2.0",
		"1.0.0 (schema 1)", `value="refresh_board_stats"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the jobs part lacks %q: %s", want, html)
		}
	}
	v.Live, v.CanStart = false, false
	if html := render(v); strings.Contains(html, "hx-get") || strings.Contains(html, "<form") {
		t.Errorf("finished runs, no permission: %s", html)
	}
}
