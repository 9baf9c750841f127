package approval

import (
	"context"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Replayed is the answer to a replay: the decision is due for delivery again.
type Replayed struct {
	DecisionID    string    `json:"decision_id"`
	WebhookID     string    `json:"webhook_id"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// Replay puts the decision of one logged delivery back in the outbox, due now, with a fresh
// retry schedule, whatever its state (given up, delivered, waiting for a disabled integration).
// The OA receives the same webhook-id as before. It returns forbidden unless the actor is an
// admin, not_found for an unknown delivery or one of another integration, and unavailable when
// the database cannot be reached.
func (c *Callbacks) Replay(ctx context.Context, actor *auth.Principal, integrationID, deliveryID string) (_ *Replayed, err error) {
	defer apperr.Wrapf(&err, "replay delivery %s", deliveryID)
	if !actor.HasRole(auth.RoleAdmin) {
		return nil, apperr.New(apperr.Forbidden, "replays are for admins")
	}
	d, err := c.loadDelivery(ctx, deliveryID)
	if apperr.Is(err, apperr.NotFound) || (err == nil && d.Source != integrationID) {
		return nil, apperr.New(apperr.NotFound, "integration %s has no delivery %s", integrationID, deliveryID)
	}
	if err != nil {
		return nil, err
	}
	now := c.Now.Stored()
	if err := c.setCallback(ctx, d.DecisionID, math.MaxInt32, bson.D{
		{Key: "callback.state", Value: CallbackPending}, {Key: "callback.round", Value: 0},
		{Key: "callback.next_at", Value: now}, {Key: "callback.replay", Value: true},
	}); err != nil {
		return nil, err
	}
	if err := c.requeue(ctx, d.DecisionID, d.Source, now); err != nil {
		return nil, err
	}
	c.log().Info("approval: callback replayed", "decision", d.DecisionID, "by", actor.UserID)
	return &Replayed{DecisionID: d.DecisionID, WebhookID: d.WebhookID, NextAttemptAt: now}, nil
}
