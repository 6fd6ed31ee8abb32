package apperr_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"tenantry/internal/apperr"
)

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"invalid", apperr.Invalid("bad %s", "input"), http.StatusUnprocessableEntity},
		{"conflict", apperr.Conflict("taken"), http.StatusConflict},
		{"not found", apperr.NotFound("gone"), http.StatusNotFound},
		{"forbidden", apperr.Forbidden("no"), http.StatusForbidden},
		{"wrapped", fmt.Errorf("context: %w", apperr.Conflict("taken")), http.StatusConflict},
		{"plain error", errors.New("boom"), http.StatusInternalServerError},
		{"temporal invalid", temporal.NewNonRetryableApplicationError("bad", "invalid", nil), http.StatusUnprocessableEntity},
		{"temporal unknown type", temporal.NewApplicationError("boom", "SomethingElse"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, apperr.HTTPStatus(tc.err))
		})
	}
}

func TestKindOf(t *testing.T) {
	assert.Equal(t, apperr.Kind(""), apperr.KindOf(nil))
	assert.Equal(t, apperr.KindInternal, apperr.KindOf(errors.New("boom")))
	assert.Equal(t, apperr.KindNotFound, apperr.KindOf(fmt.Errorf("x: %w", apperr.NotFound("gone"))))
}

func TestForTemporalRoundTrip(t *testing.T) {
	for _, src := range []*apperr.Error{
		apperr.Invalid("host %q is not valid", "a b"),
		apperr.Conflict("host taken"),
		apperr.NotFound("no such instance"),
		apperr.Forbidden("not yours"),
	} {
		t.Run(string(src.Kind), func(t *testing.T) {
			err := apperr.ForTemporal(fmt.Errorf("wrapped: %w", src))
			var app *temporal.ApplicationError
			if assert.ErrorAs(t, err, &app) {
				assert.True(t, app.NonRetryable(), "domain errors must not be retried")
				assert.Equal(t, string(src.Kind), app.Type())
			}
			assert.Equal(t, src.Kind, apperr.KindOf(err))
			assert.Equal(t, src.Message, apperr.Message(err))
			// A workflow sees an activity's error wrapped once more.
			outer := fmt.Errorf("activity failed: %w", err)
			assert.Equal(t, src.Kind, apperr.KindOf(outer))
		})
	}
}

func TestForTemporalPassesOtherErrorsThrough(t *testing.T) {
	assert.NoError(t, apperr.ForTemporal(nil))
	boom := errors.New("connection refused")
	assert.Same(t, boom, apperr.ForTemporal(boom))
	assert.Equal(t, "internal error", apperr.Message(boom), "a cause must not reach users")
}

// A Failed error keeps its message for clients and its cause for
// operators, as an activity returns it and as a workflow reads it.
func TestFailedKeepsItsCause(t *testing.T) {
	cause := errors.New(`migration 000002_x.up.sql failed: ERROR: boom (SQLSTATE 42P01)`)
	e := apperr.Failed(cause, "forum %s could not be installed", "1.1.0")
	assert.Equal(t, apperr.KindFailed, apperr.KindOf(e))
	assert.Equal(t, "forum 1.1.0 could not be installed", apperr.Message(e))
	assert.Equal(t, cause.Error(), apperr.Cause(e))
	assert.Equal(t, http.StatusInternalServerError, apperr.HTTPStatus(e))

	sent := apperr.ForTemporal(e)
	var app *temporal.ApplicationError
	require.ErrorAs(t, sent, &app)
	assert.True(t, app.NonRetryable())
	assert.Equal(t, "forum 1.1.0 could not be installed", apperr.Message(sent))
	assert.Equal(t, cause.Error(), apperr.Cause(sent))

	// Across Temporal the cause arrives as an application error of its own.
	arrived := fmt.Errorf("activity error: %w", temporal.NewNonRetryableApplicationError(app.Message(), app.Type(),
		temporal.NewApplicationError(cause.Error(), "*migrator.Error")))
	assert.Equal(t, apperr.KindFailed, apperr.KindOf(arrived))
	assert.Equal(t, "forum 1.1.0 could not be installed", apperr.Message(arrived))
	assert.Equal(t, cause.Error(), apperr.Cause(arrived))

	assert.Equal(t, "taken", apperr.Cause(apperr.Conflict("taken")))
	assert.Equal(t, "boom", apperr.Cause(errors.New("boom")))
}
