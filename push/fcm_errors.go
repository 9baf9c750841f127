package push

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
)

// classify turns the SDK's error for one message into a Result.
//
// Only errors that say the token itself is dead remove it: a sender-id
// mismatch is Failed, not TokenInvalid, because wrong server credentials
// produce it for every token and must not wipe them all.
func classify(err error, now time.Time) Result {
	resp := errorutils.HTTPResponse(err)
	status := 0
	if resp != nil {
		status = responseStatus(resp)
	}
	reason := errorReason(err, status)
	switch {
	case messaging.IsUnregistered(err), isInvalidToken(err):
		return Result{Outcome: TokenInvalid, Reason: reason}
	case isTransient(err, status):
		r := Result{Outcome: Retry, Reason: reason}
		if resp != nil {
			r.RetryAfter = retryAfter(resp, now)
		}
		return r
	default:
		return Result{Outcome: Failed, Reason: reason}
	}
}

// isInvalidToken reports an INVALID_ARGUMENT about the token rather than
// about the message; FCM tells the two apart only in the error message.
func isInvalidToken(err error) bool {
	if !messaging.IsInvalidArgument(err) && !errorutils.IsInvalidArgument(err) {
		return false
	}
	return strings.Contains(strings.ToLower(err.Error()), "registration token")
}

// isTransient reports failures worth retrying: rate limits, server errors,
// timeouts and failed connections (an SDK error without an HTTP response).
func isTransient(err error, status int) bool {
	switch {
	case status == http.StatusTooManyRequests, status >= http.StatusInternalServerError:
		return true
	case messaging.IsQuotaExceeded(err), messaging.IsUnavailable(err), messaging.IsInternal(err),
		errorutils.IsResourceExhausted(err), errorutils.IsUnavailable(err), errorutils.IsInternal(err),
		errorutils.IsDeadlineExceeded(err), errorutils.IsAborted(err), errorutils.IsCancelled(err):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The call's context ended before this message went out (or while
		// it was in flight); it may be sent again.
		return true
	case status == 0 && errorutils.IsUnknown(err):
		return true
	}
	return false
}

// errorReason names the failure for logs, metrics and dead letters: the FCM
// error code when there is one, else the platform code, else the HTTP status.
func errorReason(err error, status int) string {
	switch {
	case messaging.IsUnregistered(err):
		return "UNREGISTERED"
	case messaging.IsQuotaExceeded(err):
		return "QUOTA_EXCEEDED"
	case messaging.IsSenderIDMismatch(err):
		return "SENDER_ID_MISMATCH"
	case messaging.IsThirdPartyAuthError(err):
		return "THIRD_PARTY_AUTH_ERROR"
	case messaging.IsInvalidArgument(err), errorutils.IsInvalidArgument(err):
		return "INVALID_ARGUMENT"
	case messaging.IsUnavailable(err), errorutils.IsUnavailable(err), status == http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case messaging.IsInternal(err), errorutils.IsInternal(err):
		return "INTERNAL"
	case errorutils.IsResourceExhausted(err):
		return "RESOURCE_EXHAUSTED"
	case errorutils.IsDeadlineExceeded(err), errors.Is(err, context.DeadlineExceeded):
		return "DEADLINE_EXCEEDED"
	case errorutils.IsCancelled(err), errors.Is(err, context.Canceled):
		return "CANCELLED"
	case errorutils.IsUnauthenticated(err):
		return "UNAUTHENTICATED"
	case errorutils.IsPermissionDenied(err):
		return "PERMISSION_DENIED"
	case errorutils.IsNotFound(err):
		return "NOT_FOUND"
	case status != 0:
		return "HTTP_" + strconv.Itoa(status)
	case errorutils.IsUnknown(err):
		return "UNKNOWN"
	}
	return "ERROR"
}
