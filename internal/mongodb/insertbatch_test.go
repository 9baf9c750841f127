package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// duplicateIndexes are the indexes of docs that a DB.InsertMany error reports as duplicates;
// it fails the test on any other error.
func duplicateIndexes(t *testing.T, err error) []int {
	t.Helper()
	if err == nil {
		return nil
	}
	var bulk mongo.BulkWriteException
	if !errors.As(err, &bulk) {
		t.Errorf("insert: %v, want nil or a BulkWriteException", err)
		return nil
	}
	var out []int
	for _, we := range bulk.WriteErrors {
		if !mongodb.IsDuplicateKey(mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}}) {
			t.Errorf("write error %+v, want a duplicate key", we)
		}
		out = append(out, we.Index)
	}
	return out
}

// TestInsertManyCoalescesConcurrentCalls: calls that queue while a command is in flight go as
// one command, and each caller learns exactly which of its own documents already existed.
func TestInsertManyCoalescesConcurrentCalls(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	const coll = "batched"
	// Every third caller's middle document exists already.
	if err := db.InsertMany(ctx, coll, []any{bson.D{{Key: "_id", Value: "c0-1"}}, bson.D{{Key: "_id", Value: "c3-1"}},
		bson.D{{Key: "_id", Value: "c6-1"}}, bson.D{{Key: "_id", Value: "c9-1"}}}); err != nil {
		t.Fatal(err)
	}
	before := mongodb.InsertCommands(db, coll)
	release := mongodb.HoldInserts(db, coll)
	const callers = 10
	dups := make([][]int, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			docs := make([]any, 3)
			for i := range docs {
				docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("c%d-%d", c, i)}, {Key: "caller", Value: c}}
			}
			dups[c] = duplicateIndexes(t, db.InsertMany(ctx, coll, docs))
		})
	}
	for deadline := time.Now().Add(time.Minute); mongodb.QueuedInserts(db, coll) < callers; runtime.Gosched() {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("%d of %d calls queued behind the held command", mongodb.QueuedInserts(db, coll), callers)
		}
	}
	release()
	wg.Wait()
	if n := mongodb.InsertCommands(db, coll) - before; n != 1 {
		t.Errorf("%d insert commands for %d queued calls, want 1", n, callers)
	}
	for c, d := range dups {
		want := []int(nil)
		if c%3 == 0 {
			want = []int{1}
		}
		if !slices.Equal(d, want) {
			t.Errorf("caller %d: duplicates at %v, want %v", c, d, want)
		}
	}
	n, err := db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "caller", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != callers*3-4 {
		t.Errorf("%d documents inserted (%v), want %d", n, err, callers*3-4)
	}
}

// TestInsertManyUnderConcurrentCallers: 16 callers insert batches, some with documents that
// exist; each gets its own answer, every document is stored once, and nothing stays queued.
func TestInsertManyUnderConcurrentCallers(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	const coll = "batched"
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 8 {
				docs := []any{
					bson.D{{Key: "_id", Value: fmt.Sprintf("w%d-%d-a", w, i)}},
					bson.D{{Key: "_id", Value: fmt.Sprintf("w%d-%d-b", w, i)}},
				}
				if d := duplicateIndexes(t, db.InsertMany(ctx, coll, docs)); d != nil {
					t.Errorf("first insert of w%d-%d: duplicates at %v", w, i, d)
				}
				// Again, with one new document after the two that exist.
				docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("w%d-%d-c", w, i)}})
				if d := duplicateIndexes(t, db.InsertMany(ctx, coll, docs)); !slices.Equal(d, []int{0, 1}) {
					t.Errorf("second insert of w%d-%d: duplicates at %v, want [0 1]", w, i, d)
				}
				if err := db.InsertMany(canceled, coll, []any{bson.D{{Key: "_id", Value: fmt.Sprintf("w%d-%d-x", w, i)}}}); err == nil {
					t.Errorf("insert with a canceled context succeeded")
				}
			}
		})
	}
	wg.Wait()
	n, err := db.Collection(coll).CountDocuments(ctx, bson.D{})
	x, errX := db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "-x$"}}}})
	if err != nil || errX != nil || n-x != 16*8*3 {
		t.Errorf("%d documents (%v), want %d", n-x, errors.Join(err, errX), 16*8*3)
	}
	if q := mongodb.QueuedInserts(db, coll); q != 0 {
		t.Errorf("%d calls still queued", q)
	}
}
