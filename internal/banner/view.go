package banner

import (
	"cmp"
	"context"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// The banners collection is tiny (tens of banners) and read by every login page, so reads never
// reach the database: they use an in-memory view (mongodb.View), reloaded after each write here
// and by Refresh, which cmd/mportal calls every few seconds to pick up other instances' writes.

// Refresh reloads the view from the database. It returns unavailable when the database cannot
// be reached, and then keeps serving the previous view.
func (s *Service) Refresh(ctx context.Context) error { return s.view.Refresh(ctx, s.load) }

// all returns every banner, loading the view first if this instance has not yet.
func (s *Service) all(ctx context.Context) ([]Banner, error) { return s.view.Get(ctx, s.load) }

// load reads every banner, in UTC and sorted for the carousel.
func (s *Service) load(ctx context.Context) ([]Banner, error) {
	all, err := mongodb.FindAll[Banner](ctx, s.coll(), bson.D{}, "banner")
	if err != nil {
		return nil, err
	}
	for i := range all {
		b := &all[i]
		b.StartsAt, b.EndsAt = b.StartsAt.UTC(), b.EndsAt.UTC()
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	}
	sortBanners(all)
	return all, nil
}

// sortBanners orders banners as the carousel shows them: by order, then by start, then by id
// so that equal orders still have one stable sequence.
func sortBanners(bs []Banner) {
	slices.SortFunc(bs, func(a, b Banner) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.ID, b.ID))
	})
}
