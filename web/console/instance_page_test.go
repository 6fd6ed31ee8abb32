package console_test

import (
	"context"
	"strings"
	"testing"

	"tenantry/web/console"
)

// A client sees its instance's version and, while an operator upgrades it,
// that it is in maintenance.
func TestInstancePageShowsVersionAndMaintenance(t *testing.T) {
	render := func(d console.InstanceDetail) string {
		var b strings.Builder
		if err := console.InstancePage(console.Page{Title: "forum"}, d).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	d := console.InstanceDetail{ID: "i1", Service: "forum", Version: "1.1.0", Status: "ready", Host: "a.localhost"}
	page := render(d)
	if !strings.Contains(page, "1.1.0") || strings.Contains(page, `id="instance-maintenance"`) {
		t.Fatalf("a ready instance's page: %s", page)
	}
	d.Maintenance = true
	if page := render(d); !strings.Contains(page, `id="instance-maintenance"`) || !strings.Contains(page, "Being upgraded") {
		t.Fatalf("an instance in maintenance: %s", page)
	}
}
