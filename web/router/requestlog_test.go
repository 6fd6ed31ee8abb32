package router_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// Every answer for an instance lands in its own log once, without the
// query string, beside the events of its provisioning; other instances'
// logs stay apart.
func TestRequestsLandInTheInstancesLog(t *testing.T) {
	t.Parallel()
	c := testenv.NewControl(t)
	r, base := startRouter(t, c)
	id := provision(t, c, "forum", "logged.localhost", "en", "search")
	other := provision(t, c, "forum", "silent.localhost", "en")
	b := &testenv.Browser{T: t, Base: base, Host: "logged.localhost"}
	b.MustSee("/")
	b.MustSee("/search?q=secret-token")
	b.Get("/no-such-page")
	require.NoError(t, r.Flush(ctx))
	require.NoError(t, r.Flush(ctx)) // a second flush writes nothing again

	lines, err := controldb.InstanceLogs(ctx, c.DB, id, 0, nil, 100, false)
	require.NoError(t, err)
	var requests, events []controldb.LogLine
	for _, l := range lines {
		if l.Kind == controldb.LogRequest {
			requests = append(requests, l)
		} else {
			events = append(events, l)
		}
	}
	require.Len(t, requests, 3)
	assert.Equal(t, "GET", requests[0].Method)
	assert.Equal(t, "/", requests[0].Path)
	assert.Equal(t, 200, requests[0].Status)
	assert.Equal(t, "/search", requests[1].Path, "the query string stays out of the log")
	assert.Equal(t, 404, requests[2].Status)
	require.NotNil(t, requests[0].DurationMS)
	assert.NotEmpty(t, events, "the provisioning's events are in the same stream")
	assert.Equal(t, "instance.requested", events[0].Event)

	quiet, err := controldb.InstanceLogs(ctx, c.DB, other, 0, nil, 100, false)
	require.NoError(t, err)
	for _, l := range quiet {
		assert.Equal(t, controldb.LogEventKind, l.Kind, "another instance got a request line")
	}
}
