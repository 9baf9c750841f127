// Package apperr defines mportal's one error type. Every package returns *Error for failures a
// client can act on; api/errors.go is the only place that turns a Code into an HTTP status and an
// RFC 9457 problem document. Anything that is not an *Error is an internal error: its text is logged
// with the request id and never sent to a client.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Clients switch on it, so codes are never renamed.
type Code string

// The code set. Keep it small: a new code is a contract change.
const (
	Invalid              Code = "invalid"                // the request is well-formed but a value is wrong
	InvalidJSON          Code = "invalid_json"           // the body is not valid JSON
	Unauthorized         Code = "unauthorized"           // no or bad credentials
	Forbidden            Code = "forbidden"              // authenticated, but not allowed
	NotFound             Code = "not_found"              // no such object, or not visible to the caller
	Conflict             Code = "conflict"               // the object exists or changed under the caller
	TooLarge             Code = "too_large"              // the body or a file is over its limit
	HeadersTooLarge      Code = "headers_too_large"      // the request line and headers are over their limit
	RequestTimeout       Code = "request_timeout"        // the client sent its request too slowly
	UnsupportedMedia     Code = "unsupported_media_type" // wrong Content-Type
	RateLimited          Code = "rate_limited"           // slow down; see RetryAfter
	PasswordChangeNeeded Code = "password_change_required"
	UnknownApprovers     Code = "unknown_approvers"      // an approval event names approvers the directory lacks (Data lists them)
	AlreadyDecided       Code = "already_decided"        // the approval task has another decision (Data holds it)
	TaskClosed           Code = "task_closed"            // the approval task was withdrawn, transferred or decided on the OA side
	IdempotencyKeyReused Code = "idempotency_key_reused" // an Idempotency-Key came again with a different request body
	Unavailable          Code = "unavailable"            // a dependency is down; retry later
	Internal             Code = "internal"               // a bug or an unexpected failure
)

// Error is an error a client may see. Message is written for people and must never contain a
// driver's or a dependency's raw error text; wrap those in Err, which is only logged.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input (a JSON field, a query parameter, a CSV column), if any.
	Field string
	// RetryAfter, when set, is sent as the Retry-After header (rate limiting, unavailability).
	RetryAfter time.Duration
	// Err is the underlying cause, kept for logs and errors.Is/As. It is never sent to clients.
	Err error
	// Data, when set, is sent as the problem's "data" member: what the client needs to act on
	// the error (the unknown approvers, the winning decision). It must hold nothing secret.
	Data any
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error about one named input field.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that keeps cause for logs.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Wrapf adds context to *errp in place, keeping its chain: defer apperr.Wrapf(&err, "publish %s", id).
// Like pkgsite's derrors.Wrap, it does nothing when *errp is nil.
func Wrapf(errp *error, format string, args ...any) {
	if *errp != nil {
		*errp = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), *errp)
	}
}
