package activities_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/servicejobs"
	"tenantry/internal/testenv"
)

func queueJob(t *testing.T, c *testenv.Control, inst instance, job string, schema uint) activities.JobRef {
	t.Helper()
	id := uuid.NewString()
	_, err := c.DB.Exec(ctx, `INSERT INTO service_jobs (id, instance_id, service, job, version, schema_version)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, inst.ID, inst.Service, job, inst.Version, schema)
	require.NoError(t, err)
	return activities.JobRef{JobID: id}
}

func TestServiceJobOnTheTenantDatabase(t *testing.T) {
	c := testenv.NewControl(t)
	inst := provision(t, c, "forum", "jobs-forum.localhost", "core")
	ref := queueJob(t, c, inst, "refresh_board_stats", 1)

	st, err := c.Acts.ClaimJob(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, controldb.JobRunning, st.Status)
	res, err := c.Acts.RunJob(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Counts["boards"], "the seed's general board")
	var stats string
	require.NoError(t, asTenant(t, c, inst.ID).QueryRow(ctx, `SELECT value->'general'->>'threads' FROM tenant_settings WHERE key = 'board_stats'`).Scan(&stats))
	assert.Equal(t, "0", stats)

	require.NoError(t, c.Acts.FinishJob(ctx, activities.FinishJobInput{JobID: ref.JobID, Status: controldb.JobCompleted, Result: &res}))
	require.NoError(t, c.Acts.FinishJob(ctx, activities.FinishJobInput{JobID: ref.JobID, Status: controldb.JobFailed, Error: "late"}),
		"a second finish is a no-op")
	var status string
	var stored servicejobs.Result
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT status, result FROM service_jobs WHERE id = $1`, ref.JobID).Scan(&status, &stored))
	assert.Equal(t, controldb.JobCompleted, status)
	assert.Equal(t, res, stored)
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(c.Acts.FinishJob(ctx, activities.FinishJobInput{JobID: ref.JobID, Status: "done"})))

	// The code of the schema it was queued under: schema 1 has no search index.
	_, err = c.Acts.RunJob(ctx, queueJob(t, c, inst, "rebuild_search_index", 1))
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))

	// A disabled instance's jobs fail for good.
	_, err = c.DB.Exec(ctx, `UPDATE instances SET status = 'disabled' WHERE id = $1`, inst.ID)
	require.NoError(t, err)
	_, err = c.Acts.RunJob(ctx, queueJob(t, c, inst, "refresh_board_stats", 1))
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
}
