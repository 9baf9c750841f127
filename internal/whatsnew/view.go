package whatsnew

import (
	"cmp"
	"context"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// Cards are served from an in-memory view (mongodb.View): every app start after an update reads
// them, and the collection is small (a few cards per release). The view is reloaded after each
// write here and by Refresh, which cmd/mportal calls every few seconds for other instances' writes.

// Refresh reloads the view from the database. It returns unavailable when the database cannot
// be reached, and then keeps serving the previous view.
func (s *Service) Refresh(ctx context.Context) error { return s.view.Refresh(ctx, s.load) }

// all returns every card, loading the view first if this instance has not yet.
func (s *Service) all(ctx context.Context) ([]Card, error) { return s.view.Get(ctx, s.load) }

// load reads every card, sorted by app, build and order.
func (s *Service) load(ctx context.Context) ([]Card, error) {
	all, err := mongodb.FindAll[Card](ctx, s.coll(), bson.D{}, "what's-new card")
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].CreatedAt = all[i].CreatedAt.UTC()
	}
	slices.SortFunc(all, func(a, b Card) int {
		return cmp.Or(cmp.Compare(a.AppID, b.AppID), cmp.Compare(a.BuildNumber, b.BuildNumber), cmp.Compare(a.Order, b.Order))
	})
	return all, nil
}
