package approval

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// record stores the outcome of attempt d: in the delivery log, then in the decision.
func (c *Callbacks) record(ctx context.Context, j callbackJob, d *Delivery) error {
	now := c.Now.Stored()
	d.FinishedAt = &now
	round := j.round + 1
	set := bson.D{{Key: "callback.attempts", Value: d.Attempt}, {Key: "callback.last_outcome", Value: d.Outcome},
		{Key: "callback.last_error", Value: d.Error}, {Key: "callback.replay", Value: false}}
	switch d.Outcome {
	case OutcomeDelivered:
		set = append(set, bson.E{Key: "callback.state", Value: CallbackDelivered}, bson.E{Key: "callback.delivered_at", Value: now},
			bson.E{Key: "callback.round", Value: round})
	case OutcomeGone:
		// The decision waits, due, until an admin enables the integration again.
		if err := c.disable(ctx, j.integrationID); err != nil {
			return err
		}
		next := now
		d.NextAttemptAt = &next
		set = append(set, bson.E{Key: "callback.next_at", Value: next}, bson.E{Key: "callback.round", Value: j.round})
	case OutcomeInterrupted:
		next := now
		d.NextAttemptAt = &next
		set = append(set, bson.E{Key: "callback.next_at", Value: next}, bson.E{Key: "callback.round", Value: j.round})
	default:
		delay, more := nextAttemptDelay(round, d.retryAfter, c.jitter)
		if more {
			next := now.Add(delay)
			d.NextAttemptAt = &next
			set = append(set, bson.E{Key: "callback.next_at", Value: next})
		} else {
			set = append(set, bson.E{Key: "callback.state", Value: CallbackFailed})
			c.log().Warn("approval: callback given up", "decision", j.decisionID, "attempts", d.Attempt, "last_error", d.Error)
		}
		set = append(set, bson.E{Key: "callback.round", Value: round})
	}
	if err := c.finishAttempt(ctx, d); err != nil {
		return err
	}
	if err := c.setCallback(ctx, j.decisionID, d.Attempt, set); err != nil {
		return err
	}
	if d.NextAttemptAt == nil {
		return c.dequeue(ctx, j.decisionID)
	}
	return c.requeue(ctx, j.decisionID, j.integrationID, *d.NextAttemptAt)
}

// markDelivered finishes the work of an engine that stopped between its delivered attempt and
// the update of the decision.
func (c *Callbacks) markDelivered(ctx context.Context, decisionID string, d *Delivery) error {
	err := c.setCallback(ctx, decisionID, d.Attempt, bson.D{
		{Key: "callback.state", Value: CallbackDelivered}, {Key: "callback.delivered_at", Value: d.FinishedAt},
		{Key: "callback.attempts", Value: d.Attempt}, {Key: "callback.last_outcome", Value: d.Outcome},
	})
	if err != nil {
		return err
	}
	return c.dequeue(ctx, decisionID)
}

// setCallback updates a decision's callback unless a later attempt (or a replay) already did.
// On MongoDB that is one conditional update. The embedded FerretDB serves only a plain _id
// filter from an index (a compound filter scans every decision) and its updates are not
// atomic anyway, so there the check is a read by _id under this process's lock for the
// decision (the embedded database is only ever served by one process).
func (c *Callbacks) setCallback(ctx context.Context, decisionID string, attempt int, set bson.D) error {
	unlock := c.DB.Lock("approval-callback:" + decisionID)
	defer unlock()
	filter := bson.D{{Key: "_id", Value: decisionID}}
	if c.DB.Embedded {
		var d Decision
		err := c.decisions().FindOne(ctx, filter, options.FindOne().SetProjection(bson.D{{Key: "callback", Value: 1}})).Decode(&d)
		if err != nil {
			return fmt.Errorf("record callback of decision %s: %w", decisionID, mongodb.Translate(err, "decision"))
		}
		if d.Callback.Attempts > attempt {
			return nil
		}
	} else {
		filter = append(filter, bson.E{Key: "callback.attempts", Value: bson.D{{Key: "$lte", Value: attempt}}})
	}
	if _, err := c.decisions().UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}}); err != nil {
		return fmt.Errorf("record callback of decision %s: %w", decisionID, mongodb.Translate(err, "decision"))
	}
	return nil
}
