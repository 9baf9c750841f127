package upload

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Upload states. An upload is "uploading" from creation until its last byte; "finished" once
// tusd has assembled the object and its type passed, until Complete succeeds; then "completed".
// A wrong type makes it "rejected", the cleanup worker makes it "abandoned".
const (
	statusUploading = "uploading"
	statusFinished  = "finished"
	statusCompleted = "completed"
	statusRejected  = "rejected"
	statusAbandoned = "abandoned"
)

// record is one upload's bookkeeping document in the uploads collection. Its _id is the tus
// object id (the part of the upload id before "+"), chosen by preCreate before tusd stores
// anything, so the owner is on record before the first byte arrives.
type record struct {
	ID          string     `bson:"_id"`
	UserID      string     `bson:"user_id"`
	Roles       []string   `bson:"roles,omitempty"`
	Purpose     string     `bson:"purpose"`
	Status      string     `bson:"status"`
	CreatedAt   time.Time  `bson:"created_at"`
	CompletedAt *time.Time `bson:"completed_at,omitempty"`
}

// principal is the uploader as far as the record knows: the worker that retries Complete has no
// request, so it has no session, device or department.
func (r record) principal() *auth.Principal {
	p := &auth.Principal{UserID: r.UserID}
	for _, role := range r.Roles {
		p.Roles = append(p.Roles, auth.Role(role))
	}
	return p
}

type records struct{ coll *mongo.Collection }

func (rs *records) insert(ctx context.Context, r record) error {
	if _, err := rs.coll.InsertOne(ctx, r); err != nil {
		return fmt.Errorf("record upload %s: %w", r.ID, mongodb.Translate(err, "upload"))
	}
	return nil
}

// get returns the record of object id, or not_found.
func (rs *records) get(ctx context.Context, id string) (record, error) {
	var r record
	if err := rs.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&r); err != nil {
		return record{}, mongodb.Translate(err, "upload")
	}
	return r, nil
}

// setStatus records a state change; each upload has one writer at a time (tusd's lock, or the
// one cleanup run), so a plain update is enough.
func (rs *records) setStatus(ctx context.Context, id, status string, at time.Time) error {
	set := bson.D{{Key: "status", Value: status}}
	if status == statusCompleted {
		set = append(set, bson.E{Key: "completed_at", Value: at})
	}
	if _, err := rs.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return fmt.Errorf("upload %s status %s: %w", id, status, mongodb.Translate(err, "upload"))
	}
	return nil
}

// pending returns the uploads the cleanup worker must look at: those still uploading that were
// created before cutoff, and every finished one whose Complete has not succeeded yet.
func (rs *records) pending(ctx context.Context, cutoff time.Time) ([]record, error) {
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: statusUploading}, {Key: "created_at", Value: bson.D{{Key: "$lte", Value: cutoff}}}},
		bson.D{{Key: "status", Value: statusFinished}},
	}}}
	cur, err := rs.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("pending uploads: %w", mongodb.Translate(err, "uploads"))
	}
	var out []record
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("pending uploads: %w", mongodb.Translate(err, "uploads"))
	}
	return out, nil
}

// purge deletes the records of settled uploads created before cutoff.
func (rs *records) purge(ctx context.Context, cutoff time.Time) error {
	filter := bson.D{
		{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{statusCompleted, statusRejected, statusAbandoned}}}},
		{Key: "created_at", Value: bson.D{{Key: "$lte", Value: cutoff}}},
	}
	if _, err := rs.coll.DeleteMany(ctx, filter); err != nil {
		return fmt.Errorf("purge settled uploads: %w", mongodb.Translate(err, "uploads"))
	}
	return nil
}

// open counts userID's unfinished uploads.
func (rs *records) open(ctx context.Context, userID string) (int64, error) {
	n, err := rs.coll.CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID}, {Key: "status", Value: statusUploading}})
	if err != nil {
		return 0, fmt.Errorf("count uploads of %s: %w", userID, mongodb.Translate(err, "upload"))
	}
	return n, nil
}

// EnsureIndexes creates the index the cleanup worker's query uses (on MongoDB; the embedded
// database scans anyway, and the collection stays small).
func (s *Service) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, s.records.coll,
		mongo.IndexModel{Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: 1}}},
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "status", Value: 1}}})
}
