package controldb_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// An event is logged once per key; a retried batch of request lines writes
// nothing twice; reading after a cursor, since an instant or the tail
// returns the right lines in order.
func TestInstanceLogLines(t *testing.T) {
	c := testenv.NewControl(t)
	_, id := billedInstance(t, c, "core")
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, controldb.LogEvent(ctx, c.DB, id, "k1", "instance.maintenance", map[string]any{"on": true}))
	require.NoError(t, controldb.LogEvent(ctx, c.DB, id, "k1", "instance.maintenance", map[string]any{"on": true}))
	batch := []controldb.RequestLine{
		{InstanceID: id, At: now, Method: "GET", Path: "/", Status: 200, Duration: 1500 * time.Microsecond},
		{InstanceID: id, At: now.Add(time.Second), Method: "POST", Path: "/login", Status: 303, Duration: time.Millisecond},
	}
	require.NoError(t, controldb.InsertRequestLines(ctx, c.DB, "router-a", 1, batch))
	require.NoError(t, controldb.InsertRequestLines(ctx, c.DB, "router-a", 1, batch)) // a retried flush
	require.NoError(t, controldb.InsertRequestLines(ctx, c.DB, "router-b", 1, batch[:1]))

	all, err := controldb.InstanceLogs(ctx, c.DB, id, 0, nil, 100, false)
	require.NoError(t, err)
	require.Len(t, all, 4, "one event and three request lines")
	assert.Equal(t, "instance.maintenance", all[0].Event)
	assert.Equal(t, true, all[0].Detail["on"])
	assert.Equal(t, "/", all[1].Path)
	require.NotNil(t, all[1].DurationMS)
	assert.InDelta(t, 1.5, *all[1].DurationMS, 0.001)

	after, err := controldb.InstanceLogs(ctx, c.DB, id, all[1].ID, nil, 100, false)
	require.NoError(t, err)
	require.Len(t, after, 2)
	assert.Equal(t, "/login", after[0].Path)

	tail, err := controldb.InstanceLogs(ctx, c.DB, id, 0, nil, 2, true)
	require.NoError(t, err)
	require.Len(t, tail, 2)
	assert.Equal(t, all[2].ID, tail[0].ID, "the tail is the newest lines, oldest first")

	since := now.Add(500 * time.Millisecond)
	late, err := controldb.InstanceLogs(ctx, c.DB, id, 0, &since, 100, false)
	require.NoError(t, err)
	require.Len(t, late, 1)
	assert.Equal(t, "/login", late[0].Path)
}

// Pruning deletes lines older than the retention and beyond an
// instance's line cap, in batches, and leaves the rest.
func TestPruneLogs(t *testing.T) {
	c := testenv.NewControl(t)
	_, id := billedInstance(t, c, "core")
	old := time.Now().Add(-8 * 24 * time.Hour)
	var lines []controldb.RequestLine
	for i := range controldb.LogMaxLines + 30 {
		at := time.Now()
		if i < 20 {
			at = old
		}
		lines = append(lines, controldb.RequestLine{InstanceID: id, At: at, Method: "GET", Path: "/", Status: 200})
	}
	require.NoError(t, controldb.InsertRequestLines(ctx, c.DB, "router-a", 1, lines))
	var total int64
	for {
		n, err := controldb.PruneLogs(ctx, c.DB, time.Now().Add(-controldb.LogMaxAge), 7)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		assert.LessOrEqual(t, n, int64(7))
		total += n
	}
	assert.Equal(t, int64(30), total, "20 too old, then 10 over the cap")
	assert.Equal(t, controldb.LogMaxLines, count(t, c, "instance_logs WHERE instance_id = $1", id))
	assert.Zero(t, count(t, c, "instance_logs WHERE at < now() - interval '7 days'"))
}
