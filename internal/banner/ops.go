package banner

import (
	"context"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// List returns every banner, past, current and future, in carousel order. It returns forbidden
// unless the actor has role ops, and unavailable when the database cannot be reached.
func (s *Service) List(ctx context.Context, actor *auth.Principal) ([]Banner, error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return nil, err
	}
	// Ops expect to see what another instance just wrote, so this read goes to the database.
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	all, err := s.all(ctx)
	return slices.Clone(all), err
}

// Create stores a new banner. It returns forbidden unless the actor has role ops, invalid (with
// the field) for a bad value or an image key that names no uploaded image, and unavailable when
// the database or the object storage cannot be reached.
func (s *Service) Create(ctx context.Context, actor *auth.Principal, in Input) (_ *Banner, err error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	b := Banner{
		ID: bson.NewObjectID().Hex(), Title: in.Title, ImageKey: in.ImageKey, Link: in.Link,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, Order: in.Order, Public: in.Public,
		CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now,
	}
	if err := normalize(&b); err != nil {
		return nil, err
	}
	if err := s.checkImage(ctx, b.ImageKey); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "create banner %s", b.ID)
	if _, err := s.coll().InsertOne(ctx, b); err != nil {
		return nil, mongodb.Translate(err, "banner")
	}
	s.view.RefreshAfterWrite(ctx, s.load)
	return &b, nil
}

// Update changes the fields the patch sets. It returns forbidden unless the actor has role ops,
// not_found for an unknown id, invalid (with the field) for a bad value, and unavailable when the
// database or the object storage cannot be reached.
func (s *Service) Update(ctx context.Context, actor *auth.Principal, id string, p Patch) (_ *Banner, err error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "update banner %s", id)
	// Read, change, replace: the embedded database's updates are not atomic, so writers of one
	// banner in this process take turns; writers on other instances (MongoDB) are kept apart by
	// the compare-and-swap on Rev: an update that read an older banner reads it again, where it
	// used to replace the whole banner with its stale copy and undo the other update.
	unlock := s.DB.Lock("banner:" + id)
	defer unlock()
	for range maxUpdateAttempts {
		var cur Banner
		if err := s.coll().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
			return nil, mongodb.Translate(err, "banner")
		}
		b := p.apply(cur)
		if err := normalize(&b); err != nil {
			return nil, err
		}
		if b.ImageKey != cur.ImageKey {
			if err := s.checkImage(ctx, b.ImageKey); err != nil {
				return nil, err
			}
		}
		b.UpdatedAt = s.Now.Stored()
		ok, err := s.replace(ctx, &b, cur.Rev)
		if err != nil {
			return nil, err
		}
		if ok {
			s.view.RefreshAfterWrite(ctx, s.load)
			return &b, nil
		}
	}
	return nil, apperr.New(apperr.Conflict, "the banner changed too often meanwhile; try again")
}

// maxUpdateAttempts bounds the retries of an update that keeps losing to other instances'.
const maxUpdateAttempts = 10

// replace writes b over the banner as it was at rev, with a new Rev; false when it changed
// since (or is gone: the next read says not_found).
func (s *Service) replace(ctx context.Context, b *Banner, rev string) (bool, error) {
	var read any // a banner stored before Rev has none: null matches it
	if rev != "" {
		read = rev
	}
	b.Rev = bson.NewObjectID().Hex()
	res, err := s.coll().ReplaceOne(ctx, bson.D{{Key: "_id", Value: b.ID}, {Key: "rev", Value: read}}, b)
	if err != nil {
		return false, mongodb.Translate(err, "banner")
	}
	return res.MatchedCount == 1, nil
}

// Delete removes a banner; its image stays in storage. It returns forbidden unless the actor has
// role ops, not_found for an unknown id, and unavailable when the database cannot be reached.
func (s *Service) Delete(ctx context.Context, actor *auth.Principal, id string) (err error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return err
	}
	defer apperr.Wrapf(&err, "delete banner %s", id)
	res, err := s.coll().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mongodb.Translate(err, "banner")
	}
	if res.DeletedCount == 0 {
		return apperr.New(apperr.NotFound, "banner not found")
	}
	s.view.RefreshAfterWrite(ctx, s.load)
	return nil
}
