package mongodb_test

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func TestFindAll(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("find_all")
	type doc struct {
		ID   string `bson:"_id"`
		Kind string `bson:"kind"`
		N    int    `bson:"n"`
	}
	if _, err := coll.InsertMany(ctx, []any{doc{"a", "x", 3}, doc{"b", "y", 1}, doc{"c", "x", 2}}); err != nil {
		t.Fatal(err)
	}

	t.Run("returns the matching documents in the order asked for", func(t *testing.T) {
		got, err := mongodb.FindAll[doc](ctx, coll, bson.D{{Key: "kind", Value: "x"}}, "doc",
			options.Find().SetSort(bson.D{{Key: "n", Value: 1}}))
		if err != nil || len(got) != 2 || got[0].ID != "c" || got[1].ID != "a" {
			t.Fatalf("FindAll = %+v, %v; want c then a", got, err)
		}
	})
	t.Run("returns an empty slice, not nil, when nothing matches", func(t *testing.T) {
		got, err := mongodb.FindAll[doc](ctx, coll, bson.D{{Key: "kind", Value: "none"}}, "doc")
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("FindAll = %#v, %v; want an empty slice", got, err)
		}
	})
	t.Run("returns the error of a cancelled read, never nil and no documents", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		got, err := mongodb.FindAll[doc](cancelled, coll, bson.D{}, "doc")
		if !errors.Is(err, context.Canceled) || got != nil {
			t.Fatalf("FindAll = %v, %v; want context.Canceled", got, err)
		}
	})
}
