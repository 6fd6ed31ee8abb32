package apperr_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tenantry/internal/apperr"
)

func TestOutagesAreUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A real refused connection: nothing listens on port 1.
	_, connectErr := pgx.Connect(ctx, "postgres://x@127.0.0.1:1/x?connect_timeout=2")
	for _, tc := range []struct {
		name string
		err  error
		dep  string
	}{
		{"postgres refuses connections", connectErr, apperr.Postgres},
		{"postgres cut under a query", fmt.Errorf("select: %w", io.ErrUnexpectedEOF), apperr.Postgres},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, apperr.Postgres},
		{"temporal unavailable", fmt.Errorf("start: %w", serviceerror.NewUnavailable("connection refused")), apperr.Temporal},
		{"temporal too slow", serviceerror.NewDeadlineExceeded("deadline"), apperr.Temporal},
		{"named", apperr.Unavailable(apperr.Temporal, nil), apperr.Temporal},
		{"temporal update not answered in time", client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.DeadlineExceeded), apperr.Temporal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep, ok := apperr.Outage(tc.err)
			assert.True(t, ok)
			assert.Equal(t, tc.dep, dep)
			assert.Equal(t, apperr.KindUnavailable, apperr.KindOf(tc.err))
			assert.Equal(t, http.StatusServiceUnavailable, apperr.HTTPStatus(tc.err))
			assert.Contains(t, apperr.Message(tc.err), "unavailable", "a clear message, not the cause")
			assert.NotContains(t, apperr.Message(tc.err), "127.0.0.1")
		})
	}
	// Not outages: a constraint violation, a domain error.
	assert.Equal(t, http.StatusInternalServerError, apperr.HTTPStatus(&pgconn.PgError{Code: "23505"}))
	assert.Equal(t, http.StatusConflict, apperr.HTTPStatus(apperr.Conflict("taken")))
	h := http.Header{}
	apperr.SetRetryAfter(h, http.StatusServiceUnavailable)
	assert.Equal(t, "5", h.Get("Retry-After"))
}

func TestOutagesStayRetryableInWorkflows(t *testing.T) {
	err := apperr.ForTemporal(apperr.Unavailable(apperr.Postgres, io.ErrUnexpectedEOF))
	var app *temporal.ApplicationError
	assert.False(t, asApp(err, &app) && app.NonRetryable(), "an outage must be retried")
}

func asApp(err error, app **temporal.ApplicationError) bool {
	a, ok := err.(*temporal.ApplicationError)
	*app = a
	return ok
}
