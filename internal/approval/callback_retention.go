package approval

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// DefaultDeliveryRetention is how long the delivery log keeps an attempt when
// Callbacks.Retention is zero.
const DefaultDeliveryRetention = 30 * 24 * time.Hour

// minDeliveryRetention keeps the window far above an attempt's lease (client timeout + 30 s):
// the log document of an attempt in flight is its claim, and deleting it would let another
// engine make the same attempt.
const minDeliveryRetention = time.Hour

func (c *Callbacks) retention() time.Duration {
	if c.Retention <= 0 {
		return DefaultDeliveryRetention
	}
	return max(c.Retention, minDeliveryRetention)
}

// PurgeDeliveries deletes the delivery log's attempts that started more than the retention
// window ago, and returns how many it deleted. The embedded database has no TTL index, so a
// janitor calls it (cmd: every hour). Deleting old attempts never lets an attempt be made
// twice: the next attempt of a decision is numbered from its callback.attempts, which only
// grows, and an attempt's lease is over within a minute. A deleted attempt can no longer be
// replayed by its id (not_found); a later attempt of the same decision can. It returns
// unavailable when the database cannot be reached.
func (c *Callbacks) PurgeDeliveries(ctx context.Context) (int64, error) {
	cutoff := c.Now.Stored().Add(-c.retention())
	r, err := c.DB.Collection(deliveriesColl).DeleteMany(ctx, bson.D{{Key: "started_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("purge deliveries before %s: %w", cutoff.Format(time.RFC3339), mongodb.Translate(err, "delivery"))
	}
	return r.DeletedCount, nil
}
