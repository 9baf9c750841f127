package mongodb

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/apperr"
)

// Translate turns a driver error into an apperr at the point where it enters the domain:
// no document -> not_found, duplicate key -> conflict, timeouts, network errors and a replica
// set's failover -> unavailable.
// what names the object for the message ("user", "device"). Other errors are returned wrapped but
// without a code, so they become a logged 500 with a generic message. nil stays nil.
func Translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return apperr.Wrap(err, apperr.NotFound, "%s not found", what)
	case mongo.IsDuplicateKeyError(err):
		return apperr.Wrap(err, apperr.Conflict, "%s already exists", what)
	case errors.Is(err, context.Canceled):
		return err
	case mongo.IsTimeout(err), mongo.IsNetworkError(err), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, mongo.ErrClientDisconnected), failingOver(err):
		e := apperr.Wrap(err, apperr.Unavailable, "the database is unavailable, try again later")
		e.RetryAfter = UnavailableRetryAfter
		return e
	default:
		return err
	}
}

// failoverCodes are the server's answers while a replica set changes its primary or a member
// shuts down: the same request succeeds once the election is over. Without them, a stepdown
// (planned maintenance included) turned every write and cursor in flight into a logged 500.
var failoverCodes = []int{
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// failingOver reports whether err is the server's answer during a failover, or a write error
// the server labels as one to retry.
func failingOver(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	if se.HasErrorLabel("RetryableWriteError") {
		return true
	}
	for _, c := range failoverCodes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// UnavailableRetryAfter is the Retry-After of an answer the database's unavailability caused:
// long enough for a restarted database or a replica set's election, short enough that a phone
// retries soon after (the fault rig, cmd/chaos, saw a restarted FerretDB back within 2 s).
const UnavailableRetryAfter = 5 * time.Second

// IsDuplicateKey reports whether err is a unique-index violation.
func IsDuplicateKey(err error) bool { return mongo.IsDuplicateKeyError(err) }

// IsNotFound reports whether err means no document matched.
func IsNotFound(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// IsNamespaceExists reports whether err says that the collection being created exists already.
func IsNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}
