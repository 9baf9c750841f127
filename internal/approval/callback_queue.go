package approval

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// callbackQueueColl lists the decisions whose callback is pending: _id = decision id, with the
// source and next_at. The decision's callback sub-document is the truth; this small collection
// only saves the delivery pass a read of every decision ever made, which on the embedded
// FerretDB (no index pushdown) costs 0.4 s at 1,000 decisions and 2.4 s at 10,000
// (BenchmarkDeliverDueIdle). An entry missing after a crash between the decision and its entry
// is restored by Reconcile.
const callbackQueueColl = "approval_callback_queue"

type queueEntry struct {
	ID     string    `bson:"_id"`
	Source string    `bson:"source"`
	NextAt time.Time `bson:"next_at"`
}

// queueCallback adds a decision made in mportal to the callback queue, due at once. A failure
// is logged, not returned: the decision stands, and Reconcile queues it later.
func queueCallback(ctx context.Context, db *mongodb.DB, d *Decision) {
	_, err := db.Collection(callbackQueueColl).InsertOne(ctx, queueEntry{ID: d.ID, Source: d.Source, NextAt: d.Callback.NextAt})
	if err != nil && !mongodb.IsDuplicateKey(err) {
		slog.Warn("approval: queue callback (reconciliation will retry)", "decision", d.ID, "err", err)
	}
}

// requeue sets a queued decision's next attempt time, adding the entry if it is missing.
func (c *Callbacks) requeue(ctx context.Context, decisionID, source string, next time.Time) error {
	_, err := c.DB.Collection(callbackQueueColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: decisionID}},
		queueEntry{ID: decisionID, Source: source, NextAt: next}, options.Replace().SetUpsert(true))
	if mongodb.IsDuplicateKey(err) { // two upserts raced; the entry exists now
		_, err = c.DB.Collection(callbackQueueColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: decisionID}},
			queueEntry{ID: decisionID, Source: source, NextAt: next})
	}
	if err != nil {
		return fmt.Errorf("requeue callback of %s: %w", decisionID, mongodb.Translate(err, "callback"))
	}
	return nil
}

// dequeue removes a decision that needs no more attempts (delivered or given up).
func (c *Callbacks) dequeue(ctx context.Context, decisionID string) error {
	if _, err := c.DB.Collection(callbackQueueColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: decisionID}}); err != nil {
		return fmt.Errorf("dequeue callback of %s: %w", decisionID, mongodb.Translate(err, "callback"))
	}
	return nil
}

// Reconcile queues every pending decision that has no queue entry (its process stopped between
// storing the decision and queueing it). It reads every decision, so it runs at start and then
// rarely (ReconcileInterval).
func (c *Callbacks) Reconcile(ctx context.Context) (int, error) {
	cur, err := c.decisions().Find(ctx, bson.D{{Key: "callback.state", Value: CallbackPending}},
		options.Find().SetProjection(bson.D{{Key: "source", Value: 1}, {Key: "callback", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("pending callbacks: %w", mongodb.Translate(err, "decision"))
	}
	var ds []Decision
	if err := cur.All(ctx, &ds); err != nil {
		return 0, fmt.Errorf("pending callbacks: %w", mongodb.Translate(err, "decision"))
	}
	added := 0
	for i := range ds {
		_, err := c.DB.Collection(callbackQueueColl).InsertOne(ctx, queueEntry{ID: ds[i].ID, Source: ds[i].Source, NextAt: ds[i].Callback.NextAt})
		switch {
		case err == nil:
			added++
		case !mongodb.IsDuplicateKey(err):
			return added, fmt.Errorf("queue callback of %s: %w", ds[i].ID, mongodb.Translate(err, "callback"))
		}
	}
	if added > 0 {
		c.log().Warn("approval: queued callbacks that had no queue entry", "decisions", added)
	}
	return added, nil
}
