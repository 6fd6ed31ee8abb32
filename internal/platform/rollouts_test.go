package platform_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

// A rollout whose workflow closed without recording its end does not
// block the next one; it is recorded as stopped.
func TestStartRolloutAfterAStoppedOne(t *testing.T) {
	f := newFixture(t)
	started, err := f.p.StartRollout(f.ctx, f.who["developer"], platform.RolloutRequest{Service: "store", Version: "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if started.WorkflowID != "rollout/store/1.1.0" || uuid.Validate(started.ID) != nil {
		t.Errorf("started %+v", started)
	}
	var outcome string
	if err := f.c.DB.QueryRow(f.ctx, `SELECT outcome FROM rollouts WHERE id = $1`, f.rollout).Scan(&outcome); err != nil || outcome != "stopped" {
		t.Errorf("the old rollout: %q, %v", outcome, err)
	}
}

func TestStartRolloutRefusals(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		req  platform.RolloutRequest
		kind apperr.Kind
	}{
		{platform.RolloutRequest{Service: "forum"}, apperr.KindInvalid},
		{platform.RolloutRequest{Service: "nope", Version: "1.0.0"}, apperr.KindInvalid},
		{platform.RolloutRequest{Service: "forum", Version: "9.0.0"}, apperr.KindInvalid},
		{platform.RolloutRequest{Service: "forum", Version: "1.2.0", Options: workflows.RolloutOptions{BatchSize: 1000}}, apperr.KindInvalid},
		{platform.RolloutRequest{Service: "forum", Version: "1.2.0", Options: workflows.RolloutOptions{DrainDeadline: time.Millisecond}}, apperr.KindInvalid},
	} {
		if _, err := f.p.StartRollout(f.ctx, f.who["developer"], tc.req); apperr.KindOf(err) != tc.kind {
			t.Errorf("%+v: got %v, want %s", tc.req, err, tc.kind)
		}
	}
	if err := f.p.ControlRollout(f.ctx, f.who["developer"], f.rollout, "explode", ""); apperr.KindOf(err) != apperr.KindInvalid {
		t.Errorf("an unknown control: %v", err)
	}
	if err := f.p.ControlRollout(f.ctx, f.who["developer"], uuid.NewString(), "pause", ""); apperr.KindOf(err) != apperr.KindNotFound {
		t.Errorf("an unknown rollout: %v", err)
	}
}

// The single-instance upgrade leaves an instance to the rollout that owns
// it.
func TestUpgradeRefusesAnInstanceARolloutOwns(t *testing.T) {
	f := newFixture(t)
	rollingAcmeReady(f)
	_, err := f.p.UpgradeInstance(f.ctx, f.who["developer"], f.acme.ready, "1.1.0")
	if apperr.KindOf(err) != apperr.KindConflict || apperr.Message(err) !=
		"the rollout rollout/forum/1.2.0 owns this instance: it upgrades it (abort the rollout to upgrade it alone)" {
		t.Errorf("got %v", err)
	}
	if _, err := f.p.StartRollout(f.ctx, f.who["developer"], platform.RolloutRequest{Service: "forum", Version: "1.2.0"}); err != nil {
		t.Errorf("a rollout whose workflow is gone does not block: %v", err)
	}
}

// A move leaves an instance to the running rollout that owns it: both
// would put it in maintenance. Once the rollout is done with it (upgraded
// or skipped), or has ended, it may move; one that failed stays the
// rollout's, whose retry upgrades it again.
func TestMoveRefusesAnInstanceARolloutOwns(t *testing.T) {
	const refused = "the instance belongs to the running rollout rollout/forum/1.2.0: move it when the rollout has ended"
	for _, tc := range []struct {
		state string
		free  bool
	}{{"pending", false}, {"queued", false}, {"failed", false}, {"done", true}, {"skipped", true}} {
		t.Run(tc.state, func(t *testing.T) {
			f := newFixture(t)
			id := rollingAcmeReady(f)
			f.exec(`UPDATE rollout_instances SET state = $2 WHERE rollout_id = $1`, id, tc.state)
			_, err := f.p.MoveInstance(f.ctx, f.who["developer"], f.acme.ready, "spare")
			switch {
			case tc.free && err != nil:
				t.Errorf("an instance the rollout is done with: %v", err)
			case !tc.free && (apperr.KindOf(err) != apperr.KindConflict || apperr.Message(err) != refused):
				t.Errorf("got %v", err)
			case !tc.free:
				f.exec(`UPDATE rollouts SET outcome = 'completed', ended_at = now() WHERE id = $1`, id)
				if _, err := f.p.MoveInstance(f.ctx, f.who["developer"], f.acme.ready, "spare"); err != nil {
					t.Errorf("after the rollout: %v", err)
				}
			}
		})
	}
}

// rollingAcmeReady records a running rollout of forum 1.2.0 (its workflow
// gone) that owns acme's ready instance, and returns its ID.
func rollingAcmeReady(f *fixture) string {
	id := uuid.NewString()
	f.exec(`INSERT INTO rollouts (id, workflow_id, service, version) VALUES ($1, 'rollout/forum/1.2.0', 'forum', '1.2.0')`, id)
	f.exec(`INSERT INTO rollout_instances (rollout_id, instance_id, account_id, from_version) VALUES ($1, $2, $3, '1.0.0')`,
		id, f.acme.ready, f.acme.account)
	return id
}
