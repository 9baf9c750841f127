package mongodb_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func TestView(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	coll := db.Collection("small")
	type item struct {
		ID string `bson:"_id"`
	}
	loads := 0
	load := func(ctx context.Context) ([]item, error) {
		loads++
		return mongodb.FindAll[item](ctx, coll, bson.D{}, "item")
	}
	var v mongodb.View[item]

	t.Run("loads on first use and then serves memory", func(t *testing.T) {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			got, err := v.Get(ctx, load)
			if err != nil || len(got) != 1 {
				t.Fatalf("Get = %v, %v", got, err)
			}
		}
		if loads != 1 {
			t.Fatalf("loaded %d times, want 1", loads)
		}
	})
	t.Run("shows writes after Refresh", func(t *testing.T) {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := v.Get(ctx, load); len(got) != 1 {
			t.Fatalf("saw the write before Refresh: %v", got)
		}
		if err := v.Refresh(ctx, load); err != nil {
			t.Fatal(err)
		}
		if got, _ := v.Get(ctx, load); len(got) != 2 {
			t.Fatalf("after Refresh: %v", got)
		}
	})
	t.Run("keeps the previous items when a reload fails", func(t *testing.T) {
		boom := errors.New("database down")
		if err := v.Refresh(ctx, func(context.Context) ([]item, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("Refresh error %v", err)
		}
		if got, _ := v.Get(ctx, load); len(got) != 2 {
			t.Fatalf("lost the view: %v", got)
		}
	})
	t.Run("is safe for concurrent readers and reloaders", func(t *testing.T) {
		static := func(context.Context) ([]item, error) { return []item{{ID: "x"}}, nil }
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if g%2 == 0 {
						_ = v.Refresh(ctx, static)
					} else if _, err := v.Get(ctx, static); err != nil {
						t.Error(err)
					}
				}
			}(g)
		}
		wg.Wait()
	})
}
