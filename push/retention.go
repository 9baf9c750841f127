package push

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// DefaultRetention is how long a finished notification's records are kept when
// Engine.Retention is zero.
const DefaultRetention = 90 * 24 * time.Hour

// minRetention keeps the window far beyond anything still in flight: a notification is done
// only when its last batch is gone, and a retry waits at most BackoffCap.
const minRetention = 7 * 24 * time.Hour

func (e *Engine) retention() time.Duration {
	if e.Retention <= 0 {
		return DefaultRetention
	}
	return max(e.Retention, minRetention)
}

// Purge deletes what finished notifications leave behind once they are older than the
// retention window, and returns how many documents it deleted. Without it push_notifications,
// push_collapse and push_dead grow with every notification ever sent, and the embedded
// database, which scans a collection even to find a document by _id, reads them all on each
// lookup. The embedded database has no TTL index, so a janitor calls it (cmd: every hour).
//
//   - push_notifications: those done before the cutoff. Their key no longer deduplicates: a
//     notification enqueued again under it is delivered again. Callers' keys name one event
//     (an approval step, an announcement) that is not enqueued again after months.
//   - push_collapse: the latest push per collapse key and user, recorded before the cutoff.
//     Such a push is long done; without the record, nothing is held back as superseded, which
//     is right when nothing later was enqueued, and a later push writes the record again.
//   - push_dead: dead letters (kept for support) written before the cutoff.
//
// Notifications not done (scheduled, fanning out or sending) are kept whatever their age. It
// returns unavailable when the database cannot be reached.
func (e *Engine) Purge(ctx context.Context) (int64, error) {
	cutoff := e.Now.Stored().Add(-e.retention())
	before := bson.D{{Key: "$lt", Value: cutoff}}
	var deleted int64
	for _, p := range []struct{ coll, field, what string }{
		{notificationsColl, "done_at", "notification"},
		{collapseColl, "at", "notification"},
		{deadColl, "created_at", "dead letter"},
	} {
		r, err := e.coll(p.coll).DeleteMany(ctx, bson.D{{Key: p.field, Value: before}})
		if err != nil {
			return deleted, fmt.Errorf("purge %s before %s: %w", p.coll, cutoff.Format(time.RFC3339), mongodb.Translate(err, p.what))
		}
		deleted += r.DeletedCount
	}
	return deleted, nil
}
