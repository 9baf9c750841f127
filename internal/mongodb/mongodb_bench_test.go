package mongodb_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkClaim is the cost of one "happens once" decision on the embedded FerretDB: an insert
// guarded by the _id index.
func BenchmarkClaim(b *testing.B) {
	coll := testenv.Mongo(b).Collection("claims")
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		won, err := mongodb.Claim(ctx, coll, fmt.Sprintf("event-%d", i), bson.D{{Key: "by", Value: "bench"}})
		if err != nil || !won {
			b.Fatalf("claim %d: won %v err %v", i, won, err)
		}
	}
}

const benchDocs = 10_000

// BenchmarkFindOne measures lookups in a collection of 10k documents on the embedded FerretDB
// (v1.24, SQLite). Neither lookup uses an index:
//   - by _id, FerretDB pushes the filter down to SQLite as `_ferretdb_sjson->'$._id' = ?`, but its
//     _id index is on the expression `_ferretdb_sjson->"_id"`, which SQLite does not match, so
//     EXPLAIN shows a SCAN. FindOne stops at the first match, so the cost grows with the
//     document's position in the table: by_id_first_doc is the floor, by_id_spread the average, and
//     a lookup of a missing _id (an upsert's first read) pays the whole scan.
//   - by any other field, indexed or not, nothing is pushed down: FerretDB decodes every document
//     in Go and filters there, several times slower per document than SQLite's scan.
func BenchmarkFindOne(b *testing.B) {
	coll := testenv.Mongo(b).Collection("people")
	ctx := context.Background()
	if err := mongodb.EnsureIndexes(ctx, coll, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}}); err != nil {
		b.Fatal(err)
	}
	batch := make([]any, 0, 1000)
	for i := range benchDocs {
		batch = append(batch, bson.D{
			{Key: "_id", Value: benchID(i)},
			{Key: "email", Value: benchEmail(i)},
			{Key: "name", Value: fmt.Sprintf("User %d", i)},
		})
		if len(batch) == cap(batch) {
			if _, err := coll.InsertMany(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// lookup finds the documents that next chooses, one after the other.
	lookup := func(b *testing.B, key func(i int) bson.D, next func(i int) int) {
		i := 0
		for b.Loop() {
			i = next(i)
			var doc bson.M
			if err := coll.FindOne(ctx, key(i)).Decode(&doc); err != nil {
				b.Fatal(err)
			}
		}
	}
	byID := func(i int) bson.D { return bson.D{{Key: "_id", Value: benchID(i)}} }
	byEmail := func(i int) bson.D { return bson.D{{Key: "email", Value: benchEmail(i)}} }
	first := func(int) int { return 0 }
	spread := func(i int) int { return (i + 7919) % benchDocs } // a prime stride visits every position
	b.Run("by_id_first_doc", func(b *testing.B) { lookup(b, byID, first) })
	b.Run("by_id_spread", func(b *testing.B) { lookup(b, byID, spread) })
	b.Run("by_indexed_email_spread", func(b *testing.B) { lookup(b, byEmail, spread) })
}

func benchID(i int) string    { return fmt.Sprintf("user-%05d", i) }
func benchEmail(i int) string { return fmt.Sprintf("user%05d@example.com", i) }
