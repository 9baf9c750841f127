package push

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// States of a notification, as reported by Status.
const (
	StateScheduled  = "scheduled"   // waiting for NotBefore
	StateFanningOut = "fanning_out" // the audience is being read into batches
	StateSending    = "sending"     // all batches written, some not sent yet
	StateDone       = "done"        // every push was sent, dead-lettered or skipped
)

// Status is the progress of one notification.
type Status struct {
	ID       string
	Category Category
	State    string
	// Queued is the number of device messages put into batches so far (while not done).
	Queued int64
	// PendingBatches is the number of send batches not yet handled, including retries and
	// batches waiting for quiet hours to end.
	PendingBatches int64
	CreatedAt      time.Time
	DoneAt         time.Time
}

// Status reports the progress of notification id. It returns not_found for an unknown id and
// unavailable when the database cannot be reached.
func (e *Engine) Status(ctx context.Context, id string) (*Status, error) {
	n, err := e.loadNotification(ctx, id)
	if err != nil {
		return nil, err
	}
	s := &Status{ID: id, Category: n.Category, CreatedAt: n.CreatedAt, State: StateDone}
	if n.DoneAt != nil {
		s.DoneAt = *n.DoneAt
		return s, nil
	}
	var a activeDoc
	err = e.coll(activeColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a)
	switch {
	case mongodb.IsNotFound(err):
		// Completed between the two reads, or enqueued by a process that died before it
		// activated the notification; Enqueue repairs the latter.
		s.State = StateScheduled
		if n, err = e.loadNotification(ctx, id); err == nil && n.DoneAt != nil {
			s.State, s.DoneAt = StateDone, *n.DoneAt
		}
		return s, err
	case err != nil:
		return nil, fmt.Errorf("status of %s: %w", id, mongodb.Translate(err, "notification"))
	}
	s.Queued = a.Queued
	switch {
	case a.State == stateSending:
		s.State = StateSending
	case a.NotBefore.After(e.Now.Stored()):
		s.State = StateScheduled
	default:
		s.State = StateFanningOut
	}
	// push_batches is small (pending work only), so counting it by a non-_id field is cheap.
	s.PendingBatches, err = e.coll(batchesColl).CountDocuments(ctx, bson.D{{Key: "notification", Value: id}})
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", id, mongodb.Translate(err, "batch"))
	}
	return s, nil
}
