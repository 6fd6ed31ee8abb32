package apperr

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Dependencies an outage names.
const (
	Postgres = "postgres"
	Temporal = "temporal"
)

// RetryAfter is what an unavailable answer asks a client to wait, in
// seconds.
const RetryAfter = 5

// Unavailable says a dependency cannot be reached now: retrying later
// will help.
func Unavailable(dependency string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Message: "Tenantry is briefly unavailable: please retry in a few seconds",
		Dependency: dependency, cause: cause}
}

// Outage tells whether err is a dependency being unreachable (PostgreSQL
// down or restarting, Temporal unreachable or not answering in time)
// rather than a fault of the request, and which dependency.
func Outage(err error) (dependency string, ok bool) {
	if err == nil {
		return "", false
	}
	var e *Error
	if errors.As(err, &e) && e.Kind == KindUnavailable {
		return e.Dependency, true
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var update *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if errors.As(err, &unavailable) || errors.As(err, &deadline) ||
		(errors.As(err, &update) && errors.Is(err, context.DeadlineExceeded)) {
		return Temporal, true
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return Postgres, true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// 08: connection exception; 57P01-57P03: the server shuts down,
		// crashed or is starting up.
		switch {
		case len(pg.Code) == 5 && pg.Code[:2] == "08", pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03":
			return Postgres, true
		}
		return "", false
	}
	// A connection cut under a query (the server went away).
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || pgconn.Timeout(err) {
		return Postgres, true
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		return Postgres, true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "", true
	}
	return "", false
}

// SetRetryAfter adds Retry-After to an unavailable answer's headers.
func SetRetryAfter(h http.Header, status int) {
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(RetryAfter))
	}
}
