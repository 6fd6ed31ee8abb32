package platform_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

func TestStartJob(t *testing.T) {
	f := newFixture(t)
	owner := f.who["owner"]
	f.exec(`UPDATE instances SET version = '1.1.0' WHERE id = $1`, f.acme.ready)

	j, err := f.p.StartJob(f.ctx, owner, f.acme.ready, "rebuild_search_index")
	require.NoError(t, err)
	assert.Equal(t, "1.1.0", j.Version)
	assert.Equal(t, uint(2), j.SchemaVersion, "the schema version the instance had when queued")
	assert.Equal(t, controldb.JobQueued, j.Status)
	assert.Equal(t, workflows.ServiceJobID(f.acme.ready, j.ID), j.WorkflowID)
	last := f.temporal.Calls[len(f.temporal.Calls)-1]
	require.Equal(t, "ExecuteWorkflow", last.Method)
	assert.Equal(t, workflows.ServiceJobInput{JobID: j.ID, InstanceID: f.acme.ready, AccountID: f.acme.account, Service: "forum",
		Job: "rebuild_search_index", Version: "1.1.0", SchemaVersion: 2}, last.Arguments.Get(3))

	list, err := f.p.InstanceJobs(f.ctx, owner, f.acme.ready)
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	assert.Equal(t, "Rebuild the search index", list.Jobs[0].Title)
	assert.Len(t, list.Available, 2)

	for _, tc := range []struct {
		name, job, sql string
		want           apperr.Kind
	}{
		{"unknown job", "vacuum", "", apperr.KindInvalid},
		{"no job named", "", "", apperr.KindInvalid},
		{"not offered yet", "rebuild_search_index", `UPDATE instances SET version = '1.0.0' WHERE id = $1`, apperr.KindInvalid},
		{"in maintenance", "refresh_board_stats", `UPDATE instances SET maintenance = true WHERE id = $1`, apperr.KindConflict},
		{"not ready", "refresh_board_stats", `UPDATE instances SET maintenance = false, status = 'disabled' WHERE id = $1`, apperr.KindConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sql != "" {
				f.exec(tc.sql, f.acme.ready)
			}
			_, err := f.p.StartJob(f.ctx, owner, f.acme.ready, tc.job)
			assert.Equal(t, tc.want, apperr.KindOf(err), "%v", err)
		})
	}
}
