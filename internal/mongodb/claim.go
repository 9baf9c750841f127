package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Claim makes "happens once" decisions: it inserts a document whose _id is id, and reports true
// when this call created it and false when the document already existed (someone else won).
//
// An insert guarded by the _id unique index is the one write that is atomic on both MongoDB and
// the embedded FerretDB, whose updates (including compare-and-swap updates) can lose writes under
// concurrency. Anything that must happen exactly once — consuming a refresh token, publishing a
// scheduled announcement, taking over an expired lease (claim "<lease>:<epoch+1>") — is a Claim.
// fields are stored alongside the _id and may be nil.
func Claim(ctx context.Context, coll *mongo.Collection, id string, fields bson.D) (bool, error) {
	doc := append(bson.D{{Key: "_id", Value: id}}, fields...)
	_, err := coll.InsertOne(ctx, doc)
	switch {
	case err == nil:
		return true, nil
	case IsDuplicateKey(err):
		return false, nil
	default:
		return false, fmt.Errorf("claim %s/%s: %w", coll.Name(), id, Translate(err, "claim"))
	}
}
