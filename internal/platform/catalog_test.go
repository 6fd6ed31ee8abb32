package platform_test

import (
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/apperr"
)

// Once a rollout of forum 1.2.0 has completed, everything that tells a
// client or a platform what a new instance gets says 1.2.0: the catalog,
// the price estimate (which refuses the module 1.2.0 dropped) and the
// broker's maintenance_info. A rollout still running or aborted promotes
// nothing.
func TestCatalogShowsTheRolledOutVersion(t *testing.T) {
	f := newFixture(t)
	version := func(service string) string {
		t.Helper()
		list, err := f.p.CatalogServices(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Name == service {
				return s.CurrentVersion
			}
		}
		t.Fatalf("no %s in the catalog", service)
		return ""
	}
	if got := version("forum"); got != "1.0.0" {
		t.Fatalf("before any rollout: forum %s", got)
	}
	if _, _, err := f.p.Estimate(f.ctx, "forum", []string{"search", "attachments"}); err != nil {
		t.Fatalf("attachments on 1.0.0: %v", err)
	}
	store := version("store")

	f.exec(`INSERT INTO rollouts (id, workflow_id, service, version, outcome, ended_at) VALUES ($1, 'rollout/forum/1.1.0', 'forum', '1.1.0', 'aborted', now())`, uuid.NewString())
	if got := version("forum"); got != "1.0.0" {
		t.Errorf("after an aborted rollout: forum %s", got)
	}
	f.exec(`INSERT INTO rollouts (id, workflow_id, service, version, outcome, ended_at) VALUES ($1, 'rollout/forum/1.2.0', 'forum', '1.2.0', 'completed', now())`, uuid.NewString())
	if got := version("forum"); got != "1.2.0" {
		t.Errorf("after a completed rollout: forum %s", got)
	}
	if got := version("store"); got != store {
		t.Errorf("store moved with forum's rollout (or its running one): %s, want %s", got, store)
	}
	if _, _, err := f.p.Estimate(f.ctx, "forum", []string{"search", "attachments"}); apperr.KindOf(err) != apperr.KindInvalid {
		t.Errorf("attachments on 1.2.0: %v, want invalid", err)
	}
	offerings, err := f.p.BrokerCatalog(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offerings {
		if o.Name == "forum" && o.Plans[0].MaintenanceInfo.Version != "1.2.0" {
			t.Errorf("the broker's forum maintenance_info: %+v", o.Plans[0].MaintenanceInfo)
		}
	}
}
