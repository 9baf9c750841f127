package datasync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// Insert writes recs as new documents stamped with seq, in one unordered insert guarded by the
// unique _id: the fast path of a push, which is mostly new records. It reads nothing, which
// matters on the embedded database, where every read scans the collection. It returns the
// indexes of the records whose id existed already (a replayed push, a concurrent copy, or a
// forged id): callers check who owns those and write them with Upsert. Records with Delete set
// are not allowed here.
func Insert(ctx context.Context, coll *mongo.Collection, seq int64, now time.Time, recs []Record) (existing []int, err error) {
	if len(recs) == 0 {
		return nil, nil
	}
	docs := make([]any, len(recs))
	for i, r := range recs {
		if r.Delete {
			return nil, fmt.Errorf("insert %s/%s: a tombstone is never inserted", coll.Name(), r.ID)
		}
		docs[i] = newDoc(seq, now, r)
	}
	_, err = coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return nil, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, fmt.Errorf("insert %d into %s: %w", len(recs), coll.Name(), mongodb.Translate(err, coll.Name()))
	}
	for _, we := range bwe.WriteErrors {
		if !mongodb.IsDuplicateKey(mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}}) {
			return nil, fmt.Errorf("insert %d into %s: %w", len(recs), coll.Name(), mongodb.Translate(err, coll.Name()))
		}
		existing = append(existing, we.Index)
	}
	return existing, nil
}
