package activities

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
)

// PlanRolloutInput starts the bookkeeping of one rollout.
type PlanRolloutInput struct {
	RolloutID  string
	WorkflowID string
	Service    string
	Version    string
	ActorID    string
	Options    any // recorded as given, for the dashboard
}

// RolloutPlan is what a rollout will do: how many instances it moves, from
// which versions, and what the target changes for each.
type RolloutPlan struct {
	Total int `json:"total"`
	// Disabled are instances disabled in their grace period: upgraded in
	// place (their host is offline, so nobody sees the maintenance), so
	// they come back on the new version if enabled again.
	Disabled     int           `json:"disabled"`
	TargetSchema uint          `json:"target_schema"`
	From         []RolloutFrom `json:"from"`
}

// RolloutFrom is what the target changes for the instances on one older
// version.
type RolloutFrom struct {
	Version   string `json:"version"`
	Schema    uint   `json:"schema"`
	Instances int    `json:"instances"`
	// Dropped are the modules this version offers that the target does
	// not: each instance's spans of them close at its own swap.
	Dropped     []string `json:"dropped,omitempty"`
	WithDropped int      `json:"with_dropped"` // instances that have one of them
}

// PlanRollout records the rollout and the instances it will move: every
// instance of the service on an older version that is ready, or disabled
// and still in its grace period. Only one rollout of a service runs at a
// time: another one running is a conflict. Retried, it finds its plan
// recorded and returns it.
func (a *Activities) PlanRollout(ctx context.Context, in PlanRolloutInput) (RolloutPlan, error) {
	return finish(a.planRollout(ctx, in))
}

func (a *Activities) planRollout(ctx context.Context, in PlanRolloutInput) (RolloutPlan, error) {
	svc, err := a.Catalog.Service(in.Service)
	if err != nil {
		return RolloutPlan{}, err
	}
	target, err := svc.Version(in.Version)
	if err != nil {
		return RolloutPlan{}, err
	}
	var plan RolloutPlan
	err = a.inTx(ctx, func(tx pgx.Tx) error {
		// The platform recorded it when it started it; a rollout started
		// otherwise is recorded here.
		if err := controldb.NewRollout(ctx, tx, in.RolloutID, in.WorkflowID, in.Service, in.Version, in.ActorID, in.Options); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE rollouts SET planned_at = now() WHERE id = $1 AND planned_at IS NULL AND ended_at IS NULL`,
			in.RolloutID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			if err := recordRolloutInstances(ctx, tx, in); err != nil {
				return err
			}
		}
		plan, err = readRolloutPlan(ctx, tx, svc, in)
		return err
	})
	plan.TargetSchema = target.SchemaVersion
	return plan, err
}

// recordRolloutInstances lists the instances the rollout moves.
func recordRolloutInstances(ctx context.Context, tx pgx.Tx, in PlanRolloutInput) error {
	rows, err := tx.Query(ctx, `SELECT id::text, account_id::text, version, status = 'disabled' FROM instances
		WHERE service = $1 AND (status = 'ready' OR (status = 'disabled' AND delete_after > now()))`, in.Service)
	if err != nil {
		return err
	}
	var ids, accounts, versions []string
	var disabled []bool
	var id, account, version string
	var off bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &account, &version, &off}, func() error {
		if catalog.CompareVersions(version, in.Version) < 0 {
			ids, accounts, versions, disabled = append(ids, id), append(accounts, account), append(versions, version), append(disabled, off)
		}
		return nil
	}); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rollout_instances (rollout_id, instance_id, account_id, from_version, was_disabled)
		SELECT $1, unnest($2::uuid[]), unnest($3::uuid[]), unnest($4::text[]), unnest($5::bool[])
		ON CONFLICT DO NOTHING`, in.RolloutID, ids, accounts, versions, disabled)
	return err
}

// readRolloutPlan sums up the recorded instances of a rollout.
func readRolloutPlan(ctx context.Context, tx pgx.Tx, svc *catalog.Service, in PlanRolloutInput) (RolloutPlan, error) {
	rows, err := tx.Query(ctx, `SELECT ri.from_version, ri.was_disabled, i.modules FROM rollout_instances ri
		JOIN instances i ON i.id = ri.instance_id WHERE ri.rollout_id = $1`, in.RolloutID)
	if err != nil {
		return RolloutPlan{}, err
	}
	var plan RolloutPlan
	var version string
	var off bool
	var modules []string
	_, err = pgx.ForEachRow(rows, []any{&version, &off, &modules}, func() error {
		i := slices.IndexFunc(plan.From, func(f RolloutFrom) bool { return f.Version == version })
		if i < 0 {
			from := RolloutFrom{Version: version}
			if v, err := svc.Version(version); err == nil {
				from.Schema = v.SchemaVersion
			}
			offered, err := svc.OfferedModules(version)
			if err != nil {
				return err
			}
			if from.Dropped, err = svc.DroppedModules(offered, in.Version); err != nil {
				return err
			}
			plan.From = append(plan.From, from)
			i = len(plan.From) - 1
		}
		f := &plan.From[i]
		f.Instances++
		if slices.ContainsFunc(modules, func(m string) bool { return slices.Contains(f.Dropped, m) }) {
			f.WithDropped++
		}
		plan.Total++
		if off {
			plan.Disabled++
		}
		return nil
	})
	slices.SortFunc(plan.From, func(a, b RolloutFrom) int { return catalog.CompareVersions(a.Version, b.Version) })
	return plan, err
}

// ReadinessInput names a rollout's target.
type ReadinessInput struct {
	Service string
	Version string
}

// RolloutReadiness says whether every live Tenantry process can serve the
// target, and names those that cannot.
func (a *Activities) RolloutReadiness(ctx context.Context, in ReadinessInput) (controldb.Readiness, error) {
	return finish(controldb.RolloutReadiness(ctx, a.DB, in.Service, in.Version))
}

// JobHoldInput names a service's jobs and the rollout holding them.
type JobHoldInput struct {
	Service   string
	RolloutID string
}

// HoldServiceJobs holds the service's new jobs for the rollout (queued,
// shown as held by it) while the jobs in flight finish.
func (a *Activities) HoldServiceJobs(ctx context.Context, in JobHoldInput) error {
	return apperr.ForTemporal(controldb.HoldJobs(ctx, a.DB, in.Service, in.RolloutID))
}

// ServiceJobsInFlight counts the service's jobs running now.
func (a *Activities) ServiceJobsInFlight(ctx context.Context, in JobHoldInput) (int, error) {
	return finish(controldb.JobsInFlight(ctx, a.DB, in.Service))
}

// ReleasedJobsShown caps the held jobs ReleaseServiceJobs names: the
// rollout tells those to start at once; any others start at their next
// check (within ten seconds).
const ReleasedJobsShown = 500

// ReleaseServiceJobs ends the rollout's hold and returns the jobs it held
// that still wait (the first ReleasedJobsShown), so the rollout can tell
// them to start now. Retried, it releases nothing more and returns those
// still waiting.
func (a *Activities) ReleaseServiceJobs(ctx context.Context, in JobHoldInput) ([]controldb.HeldJob, error) {
	if err := controldb.ReleaseJobs(ctx, a.DB, in.Service, in.RolloutID); err != nil {
		return nil, apperr.ForTemporal(err)
	}
	return finish(controldb.HeldJobs(ctx, a.DB, in.Service, in.RolloutID, ReleasedJobsShown))
}

// ClaimBatchInput claims the next batch of a rollout's instances.
type ClaimBatchInput struct {
	RolloutID string
	Batch     int
	Size      int
}

// RolloutTarget is one instance a batch moves.
type RolloutTarget struct {
	InstanceID string
	AccountID  string
}

// movingSQL is true of an instance (i) whose maintenance a move holds: it
// is copied to another server now.
const movingSQL = `i.maintenance AND i.maintenance_by LIKE 'move/%'`

// ClaimRolloutBatch queues up to Size instances still pending as batch
// Batch and returns them (none: every instance has had its turn, or those
// left are being moved: RolloutInstancesMoving). An instance a move holds
// in maintenance is left pending: the rollout upgrades it once the move
// has switched it and ended its maintenance. Retried, it returns the batch
// it claimed.
func (a *Activities) ClaimRolloutBatch(ctx context.Context, in ClaimBatchInput) ([]RolloutTarget, error) {
	var out []RolloutTarget
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rollout_instances SET state = 'queued', batch = $2
			WHERE rollout_id = $1 AND instance_id IN (
				SELECT ri.instance_id FROM rollout_instances ri JOIN instances i ON i.id = ri.instance_id
				WHERE ri.rollout_id = $1 AND ri.state = 'pending' AND NOT (`+movingSQL+`)
				ORDER BY ri.instance_id LIMIT $3 FOR UPDATE OF ri)
			AND NOT EXISTS (SELECT 1 FROM rollout_instances WHERE rollout_id = $1 AND batch = $2)`,
			in.RolloutID, in.Batch, in.Size); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT instance_id::text, account_id::text FROM rollout_instances
			WHERE rollout_id = $1 AND batch = $2 ORDER BY instance_id`, in.RolloutID, in.Batch)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[RolloutTarget])
		return err
	})
	return finish(out, err)
}

// RolloutInstancesMoving lists (the first hundred, by ID)
// the rollout's pending instances that a move holds in maintenance: the
// rollout waits for them.
func (a *Activities) RolloutInstancesMoving(ctx context.Context, in ClaimBatchInput) ([]string, error) {
	rows, err := a.DB.Query(ctx, `SELECT ri.instance_id::text FROM rollout_instances ri JOIN instances i ON i.id = ri.instance_id
		WHERE ri.rollout_id = $1 AND ri.state = 'pending' AND `+movingSQL+` ORDER BY ri.instance_id LIMIT 100`, in.RolloutID)
	if err != nil {
		return nil, apperr.ForTemporal(err)
	}
	return finish(pgx.CollectRows(rows, pgx.RowTo[string]))
}

// RolloutInstanceResult is how one instance's upgrade went.
type RolloutInstanceResult struct {
	RolloutID  string
	InstanceID string
	Failed     bool
	Error      string
}

// RecordRolloutInstance records how one instance's upgrade went.
func (a *Activities) RecordRolloutInstance(ctx context.Context, in RolloutInstanceResult) error {
	state := "done"
	if in.Failed {
		state = "failed"
	}
	_, err := a.DB.Exec(ctx, `UPDATE rollout_instances SET state = $3, error = nullif($4, ''), ended_at = now()
		WHERE rollout_id = $1 AND instance_id = $2`, in.RolloutID, in.InstanceID, state, in.Error)
	return apperr.ForTemporal(err)
}

// RequeueInput puts a rollout's failed instances back in its queue, as
// retry Round.
type RequeueInput struct {
	RolloutID string
	Round     int
}

// RequeueRolloutFailures puts the failed instances back in the queue and
// returns them; retried, it returns the same ones.
func (a *Activities) RequeueRolloutFailures(ctx context.Context, in RequeueInput) ([]string, error) {
	var ids []string
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rollout_instances SET state = 'pending', batch = NULL, error = NULL, ended_at = NULL,
			retry_round = $2 WHERE rollout_id = $1 AND state = 'failed'`, in.RolloutID, in.Round); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT instance_id::text FROM rollout_instances WHERE rollout_id = $1 AND retry_round = $2
			ORDER BY instance_id`, in.RolloutID, in.Round)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return finish(ids, err)
}

// FinishRolloutInput ends a rollout with an outcome.
type FinishRolloutInput struct {
	RolloutID string
	Outcome   string
}

// FinishRollout records the rollout's end; the instances it did not start
// are skipped, and the service may be rolled out again.
func (a *Activities) FinishRollout(ctx context.Context, in FinishRolloutInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error { return controldb.EndRollout(ctx, tx, in.RolloutID, in.Outcome) }))
}
