package mongodb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// TestWriteGateUnderConcurrentWriters runs 16 writers through the embedded connection's write
// gate: inserts, updates, duplicate inserts (failed commands) and writes whose context is already
// canceled. Every write gets its own right answer, and afterwards nothing holds the gate.
func TestWriteGateUnderConcurrentWriters(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("gate")
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: 0}}); err != nil {
					t.Errorf("insert %s: %v", id, err)
					return
				}
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); !mongodb.IsDuplicateKey(err) {
					t.Errorf("insert %s again: %v, want a duplicate key error", id, err)
				}
				if _, err := coll.UpdateOne(canceled, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: -1}}}}); err == nil {
					t.Errorf("update %s with a canceled context succeeded", id)
				}
				res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}})
				if err != nil || res.MatchedCount != 1 {
					t.Errorf("update %s: %+v, %v", id, res, err)
				}
			}
		})
	}
	wg.Wait()
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "n", Value: 1}})
	if err != nil || n != 160 {
		t.Errorf("%d documents updated once (%v), want 160", n, err)
	}
	if held := mongodb.GateHeld(db); held != 0 {
		t.Errorf("%d writes still hold the gate", held)
	}
}
