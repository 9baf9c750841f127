package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestClaim(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("claims")
	ctx := context.Background()

	t.Run("exactly one of 32 concurrent claimers wins", func(t *testing.T) {
		for round := 0; round < 5; round++ {
			id := fmt.Sprintf("event-%d", round)
			var wins atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make(chan error, 32)
			for g := 0; g < 32; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					<-start
					won, err := mongodb.Claim(ctx, coll, id, bson.D{{Key: "by", Value: g}})
					if err != nil {
						errs <- err
						return
					}
					if won {
						wins.Add(1)
					}
				}(g)
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("claim failed: %v", err)
			}
			if got := wins.Load(); got != 1 {
				t.Fatalf("round %d: %d winners, want exactly 1", round, got)
			}
			n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
			if err != nil || n != 1 {
				t.Fatalf("round %d: %d documents (err %v), want 1", round, n, err)
			}
		}
	})
	t.Run("a second claim of the same id loses", func(t *testing.T) {
		won, err := mongodb.Claim(ctx, coll, "once", nil)
		if err != nil || !won {
			t.Fatalf("first claim: won=%v err=%v", won, err)
		}
		won, err = mongodb.Claim(ctx, coll, "once", nil)
		if err != nil || won {
			t.Fatalf("second claim: won=%v err=%v", won, err)
		}
	})
}

func TestLockSerializesReadModifyWrite(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("counters")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	// A read-modify-write that the embedded backend would otherwise lose updates on.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				unlock := db.Lock("counter:c")
				var doc struct{ N int }
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "c"}}).Decode(&doc); err != nil {
					t.Error(err)
				}
				_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "c"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: doc.N + 1}}}})
				unlock()
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var doc struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "c"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.N != 80 {
		t.Fatalf("n = %d, want 80: Lock did not serialize the writers", doc.N)
	}
}

func TestTranslate(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("things")
	ctx := context.Background()

	t.Run("maps no document to not_found", func(t *testing.T) {
		err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "missing"}}).Err()
		got := mongodb.Translate(err, "thing")
		if !apperr.Is(got, apperr.NotFound) {
			t.Fatalf("got %v", got)
		}
		if e, _ := apperr.As(got); e.Message != "thing not found" {
			t.Fatalf("message %q", e.Message)
		}
	})
	t.Run("maps a replica set's failover to unavailable", func(t *testing.T) {
		for name, err := range map[string]error{
			"a stepdown":          mongo.CommandError{Code: 189, Name: "PrimarySteppedDown"},
			"not the primary":     mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"},
			"a retryable write":   mongo.CommandError{Code: 1, Labels: []string{"RetryableWriteError"}},
			"a write's interrupt": mongo.WriteException{WriteConcernError: &mongo.WriteConcernError{Code: 11602}},
		} {
			if got := mongodb.Translate(err, "thing"); !apperr.Is(got, apperr.Unavailable) {
				t.Errorf("%s: got %v, want unavailable", name, got)
			}
		}
		if got := mongodb.Translate(mongo.CommandError{Code: 2, Name: "BadValue"}, "thing"); apperr.Is(got, apperr.Unavailable) {
			t.Errorf("a bad value: got %v, want no code", got)
		}
	})
	t.Run("maps a duplicate key to conflict", func(t *testing.T) {
		_, _ = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "dup"}})
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "dup"}})
		if got := mongodb.Translate(err, "thing"); !apperr.Is(got, apperr.Conflict) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("maps a duplicate on a unique secondary index to conflict", func(t *testing.T) {
		if err := mongodb.EnsureIndexes(ctx, coll, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
			t.Fatal(err)
		}
		_, _ = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "email", Value: "x@example.com"}})
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}, {Key: "email", Value: "x@example.com"}})
		if got := mongodb.Translate(err, "thing"); !apperr.Is(got, apperr.Conflict) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("maps a deadline to unavailable", func(t *testing.T) {
		got := mongodb.Translate(context.DeadlineExceeded, "thing")
		if !apperr.Is(got, apperr.Unavailable) {
			t.Fatalf("got %v", got)
		}
		// the API sends it as Retry-After: an outage's 503 must tell the app when to retry
		if e, _ := apperr.As(got); e.RetryAfter != mongodb.UnavailableRetryAfter {
			t.Fatalf("retry after %v", e.RetryAfter)
		}
	})
	t.Run("keeps other errors uncoded", func(t *testing.T) {
		boom := errors.New("boom")
		if got := mongodb.Translate(boom, "thing"); apperr.CodeOf(got) != apperr.Internal {
			t.Fatalf("got %v", got)
		}
	})
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	db := testenv.Mongo(t)
	coll := db.Collection("users")
	ctx := context.Background()
	// Several indexes at once: FerretDB v1.24 panics on a multi-index createIndexes whose
	// indexes all exist, which is exactly what every restart sends.
	models := []mongo.IndexModel{
		{Keys: bson.D{{Key: "employee_no", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "department", Value: 1}}},
		{Keys: bson.D{{Key: "roles", Value: 1}}},
	}
	for i := 0; i < 3; i++ {
		if err := mongodb.EnsureIndexes(ctx, coll, models...); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

func TestOpenDetectsFerretDBBehindAURI(t *testing.T) {
	// The tests' shared server is a FerretDB reached by URI, like a production MongoDB: Open
	// must still see that its updates are not atomic, or Lock would do nothing there.
	ctx := context.Background()
	db, err := mongodb.Open(ctx, testenv.MongoURI(t), testenv.RandomName("t_"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if db.Embedded || !db.FerretDB {
		t.Fatalf("Embedded = %v, FerretDB = %v; want false, true", db.Embedded, db.FerretDB)
	}
}
