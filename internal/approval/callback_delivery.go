package approval

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// deliveriesColl is the callback delivery log: one document per attempt to deliver a decision
// to its integration's callback URL. Inserting it is the claim of the attempt (see claimAttempt).
const deliveriesColl = "approval_deliveries"

// Delivery outcomes. An attempt without an outcome is in flight (or its engine stopped).
const (
	OutcomeDelivered   = "delivered"   // the OA answered 2xx
	OutcomeFailed      = "failed"      // any other answer, or no connection
	OutcomeTimeout     = "timeout"     // no answer within the client's timeout
	OutcomeGone        = "gone"        // 410: the integration was disabled
	OutcomeInterrupted = "interrupted" // this engine stopped mid-request; retried at once
)

// Delivery is one attempt to deliver a decision to the OA, as the delivery log shows it.
type Delivery struct {
	// ID is "<decision id>:<attempt>".
	ID         string `bson:"_id" json:"id"`
	Source     string `bson:"source" json:"source"`
	DecisionID string `bson:"decision_id" json:"decision_id"`
	TaskID     string `bson:"task_id" json:"task_id"`
	// WebhookID is the webhook-id header: the same for every attempt of one decision, so the
	// OA can drop repeats.
	WebhookID string `bson:"webhook_id" json:"webhook_id"`
	Attempt   int    `bson:"attempt" json:"attempt"`
	// Trigger is "schedule" for the retry schedule and "replay" for an admin's replay.
	Trigger   string    `bson:"trigger" json:"trigger"`
	Holder    string    `bson:"holder" json:"-"`
	StartedAt time.Time `bson:"started_at" json:"started_at"`
	// LeaseUntil is when another engine may consider this attempt lost and make the next one.
	LeaseUntil time.Time  `bson:"lease_until" json:"-"`
	FinishedAt *time.Time `bson:"finished_at,omitempty" json:"finished_at,omitempty"`
	Outcome    string     `bson:"outcome,omitempty" json:"outcome,omitempty"`
	StatusCode int        `bson:"status_code,omitempty" json:"status_code,omitempty"`
	Error      string     `bson:"error,omitempty" json:"error,omitempty"`
	DurationMS int64      `bson:"duration_ms" json:"duration_ms"`
	// NextAttemptAt is when the next attempt is due after this one failed; absent when the
	// decision was delivered or given up.
	NextAttemptAt *time.Time `bson:"next_attempt_at,omitempty" json:"next_attempt_at,omitempty"`

	retryAfter time.Duration // what the OA's Retry-After asked for
}

func deliveryID(decisionID string, attempt int) string {
	return fmt.Sprintf("%s:%d", decisionID, attempt)
}

// claimAttempt inserts the delivery document of attempt n of a decision. Of several engines
// racing for the same attempt exactly one wins: the insert under the _id unique index is the one
// write that is atomic on the embedded FerretDB too.
func (c *Callbacks) claimAttempt(ctx context.Context, d *Delivery) (bool, error) {
	_, err := c.DB.Collection(deliveriesColl).InsertOne(ctx, d)
	switch {
	case err == nil:
		return true, nil
	case mongodb.IsDuplicateKey(err):
		return false, nil
	}
	return false, fmt.Errorf("claim delivery %s: %w", d.ID, mongodb.Translate(err, "delivery"))
}

// loadDelivery reads one attempt; a missing one is not_found.
func (c *Callbacks) loadDelivery(ctx context.Context, id string) (*Delivery, error) {
	var d Delivery
	err := c.DB.Collection(deliveriesColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if err != nil {
		return nil, fmt.Errorf("load delivery %s: %w", id, mongodb.Translate(err, "delivery"))
	}
	return &d, nil
}

// finishAttempt records the outcome of an attempt. Only the engine that claimed it writes it.
func (c *Callbacks) finishAttempt(ctx context.Context, d *Delivery) error {
	_, err := c.DB.Collection(deliveriesColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "finished_at", Value: d.FinishedAt}, {Key: "outcome", Value: d.Outcome},
			{Key: "status_code", Value: d.StatusCode}, {Key: "error", Value: d.Error},
			{Key: "duration_ms", Value: d.DurationMS}, {Key: "next_attempt_at", Value: d.NextAttemptAt},
		}}})
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", d.ID, mongodb.Translate(err, "delivery"))
	}
	return nil
}

// MaxDeliveriesPage is the largest page of the delivery log.
const MaxDeliveriesPage = 200

// Deliveries lists the latest attempts to deliver decisions to one integration, newest first, at
// most limit (1 to MaxDeliveriesPage). It returns forbidden unless the actor is an admin,
// not_found for an unknown integration, invalid for a bad limit and unavailable when the
// database cannot be reached.
func (c *Callbacks) Deliveries(ctx context.Context, actor *auth.Principal, integrationID string, limit int) (_ []Delivery, err error) {
	defer apperr.Wrapf(&err, "deliveries of integration %s", integrationID)
	if !actor.HasRole(auth.RoleAdmin) {
		return nil, apperr.New(apperr.Forbidden, "the delivery log is for admins")
	}
	if limit < 1 || limit > MaxDeliveriesPage {
		return nil, apperr.Field("limit", "limit must be 1 to %d", MaxDeliveriesPage)
	}
	if _, err := c.target(ctx, integrationID); err != nil {
		return nil, err
	}
	cur, err := c.DB.Collection(deliveriesColl).Find(ctx, bson.D{{Key: "source", Value: integrationID}},
		options.Find().SetSort(bson.D{{Key: "started_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, mongodb.Translate(err, "delivery")
	}
	out := []Delivery{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, mongodb.Translate(err, "delivery")
	}
	return out, nil
}

// EnsureIndexes creates the indexes of the delivery log (newest attempts of one integration;
// oldest first for the retention purge) and of the callback queue (due first).
func (c *Callbacks) EnsureIndexes(ctx context.Context) error {
	if err := createCollections(ctx, c.DB, deliveriesColl, callbackQueueColl); err != nil {
		return err
	}
	err := mongodb.EnsureIndexes(ctx, c.DB.Collection(deliveriesColl), mongo.IndexModel{
		Keys: bson.D{{Key: "source", Value: 1}, {Key: "started_at", Value: -1}},
	}, mongo.IndexModel{
		Keys: bson.D{{Key: "started_at", Value: 1}}, // the retention purge
	})
	if err != nil {
		return err
	}
	return mongodb.EnsureIndexes(ctx, c.DB.Collection(callbackQueueColl), mongo.IndexModel{
		Keys: bson.D{{Key: "next_at", Value: 1}},
	})
}

// createCollections creates collections that do not exist yet. Every collection must exist
// before the embedded database's _id indexes are added at start (embedded.EnsureIDIndexes): one
// created later by its first insert would have its _id lookups scan until the next start.
func createCollections(ctx context.Context, db *mongodb.DB, names ...string) error {
	for _, name := range names {
		if err := db.DB.CreateCollection(ctx, name); err != nil && !mongodb.IsNamespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", name, mongodb.Translate(err, "collection"))
		}
	}
	return nil
}
