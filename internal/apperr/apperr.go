// Package apperr is the one small set of domain error kinds. Each kind maps to
// one HTTP status and to one Temporal error type, so an error raised deep in an
// activity reaches a client as the same clear message with the right status.
package apperr

import (
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/temporal"
)

// Kind classifies an error by what the caller can do about it.
type Kind string

const (
	KindInvalid   Kind = "invalid"   // the input is wrong; retrying will not help
	KindConflict  Kind = "conflict"  // the input clashes with existing state
	KindNotFound  Kind = "not_found" // the object does not exist or is not yours
	KindForbidden Kind = "forbidden" // you may not do this
	KindInternal  Kind = "internal"  // our fault; the message is generic
	// KindUnauthorized: who you are is not established (log in first).
	KindUnauthorized Kind = "unauthorized"
	// KindTooMany: slow down (login attempts).
	KindTooMany Kind = "too_many"
	// KindUnavailable: a dependency (PostgreSQL, Temporal) cannot be
	// reached now; retry later.
	KindUnavailable Kind = "unavailable"
	// KindFailed: a step failed in a way that running it again cannot
	// mend (a service version's migration that fails on the instance's
	// database). The message says so to the client in plain words; the
	// cause, for operators, travels beside it (Failed).
	KindFailed Kind = "failed"
)

// Error is a domain error: a kind and a message safe to show a user.
type Error struct {
	Kind    Kind
	Message string
	// Dependency names what is unavailable (KindUnavailable).
	Dependency string
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

// Unwrap is the cause, for logs.
func (e *Error) Unwrap() error { return e.cause }

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func Invalid(format string, args ...any) *Error   { return newf(KindInvalid, format, args...) }
func Conflict(format string, args ...any) *Error  { return newf(KindConflict, format, args...) }
func NotFound(format string, args ...any) *Error  { return newf(KindNotFound, format, args...) }
func Forbidden(format string, args ...any) *Error { return newf(KindForbidden, format, args...) }
func Unauthorized(format string, args ...any) *Error {
	return newf(KindUnauthorized, format, args...)
}
func TooMany(format string, args ...any) *Error { return newf(KindTooMany, format, args...) }

// Failed is a final failure whose message a client may read, keeping its
// cause for operators: an activity's ForTemporal sends the cause as the
// application error's cause, where `temporal workflow describe` and the
// developers' console show it.
func Failed(cause error, format string, args ...any) *Error {
	e := newf(KindFailed, format, args...)
	e.cause = cause
	return e
}

// KindOf finds the domain kind of err, looking through wrapping and through
// Temporal's application, activity, child-workflow and workflow errors; an
// unreachable dependency (Outage) is KindUnavailable.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	if _, ok := Outage(err); ok {
		return KindUnavailable
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch k := Kind(app.Type()); k {
		case KindInvalid, KindConflict, KindNotFound, KindForbidden, KindFailed:
			return k
		}
	}
	return KindInternal
}

// Message returns what a user may read about err: the domain message when
// there is one, a generic sentence otherwise (the cause belongs in logs).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if KindOf(err) == KindUnavailable {
		return Unavailable("", nil).Message
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && KindOf(err) != KindInternal {
		return app.Message()
	}
	return "internal error"
}

// HTTPStatus is the one place kinds become HTTP statuses.
func HTTPStatus(err error) int {
	switch KindOf(err) {
	case KindInvalid:
		return http.StatusUnprocessableEntity
	case KindConflict:
		return http.StatusConflict
	case KindNotFound:
		return http.StatusNotFound
	case KindForbidden:
		return http.StatusForbidden
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindTooMany:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindFailed:
		return http.StatusInternalServerError
	default:
		return http.StatusInternalServerError
	}
}

// ForTemporal turns a domain error into a non-retryable application error so
// a workflow fails fast on bad input (and a Failed step keeps its cause);
// other errors (an outage too) pass through and retry.
func ForTemporal(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Kind == KindUnavailable {
		return err
	}
	var cause error
	if e.Kind == KindFailed {
		cause = e.cause
	}
	return temporal.NewNonRetryableApplicationError(e.Message, string(e.Kind), cause)
}

// Cause is what an operator needs to know of err where a client reads
// only Message: the cause a Failed error carries (a migration's file and
// SQL error, say), else the innermost application error's message, which
// is how an activity's own error arrives across Temporal.
func Cause(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch x := e.(type) {
		case *Error:
			if x.cause != nil {
				return x.cause.Error()
			}
			msg = x.Message
		case *temporal.ApplicationError:
			if x.Message() != "" {
				msg = x.Message()
			}
			c := x.Unwrap()
			if c == nil {
				continue
			}
			app, crossed := c.(*temporal.ApplicationError)
			switch {
			case Kind(x.Type()) == KindFailed && crossed:
				return app.Message() // the cause, as Temporal carried it
			case !crossed && !errors.As(c, &app):
				return c.Error() // the cause, before Temporal carries it
			}
		}
	}
	return msg
}
