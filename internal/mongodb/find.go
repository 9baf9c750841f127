package mongodb

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// FindAll decodes every document of coll that matches filter (bson.D{} for all of them), in the
// order opts sort them, translating driver errors (see Translate); what names the documents for
// error messages. It returns an empty slice, never nil, when nothing matches, so that a list
// encodes as [] in JSON. Callers own coll: it is for small collections and bounded filters.
func FindAll[T any](ctx context.Context, coll *mongo.Collection, filter any, what string, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, Translate(err, what))
	}
	all := []T{}
	if err := cur.All(ctx, &all); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, Translate(err, what))
	}
	return all, nil
}
