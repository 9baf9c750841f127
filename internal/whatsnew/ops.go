package whatsnew

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// Input is a new card. A nil Order puts the card after the build's existing cards.
type Input struct {
	AppID       string            `json:"app_id"`
	BuildNumber int               `json:"build_number"`
	Order       *int              `json:"order"`
	Title       map[string]string `json:"title"`
	Body        map[string]string `json:"body"`
	ImageKey    string            `json:"image_key"`
}

// Create stores a card. It returns forbidden unless the actor has role ops, invalid (with the
// field) for a bad value or an image key that names no uploaded image, conflict when the build
// already has a card at that order, and unavailable when the database or the object storage
// cannot be reached.
func (s *Service) Create(ctx context.Context, actor *auth.Principal, in Input) (_ *Card, err error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return nil, err
	}
	c := Card{AppID: in.AppID, BuildNumber: in.BuildNumber, ImageKey: in.ImageKey, CreatedBy: actor.UserID, CreatedAt: s.Now.Stored()}
	if err := validAppID("app_id", c.AppID); err != nil {
		return nil, err
	}
	if err := validBuild("build_number", c.BuildNumber); err != nil {
		return nil, err
	}
	if in.Order != nil && (*in.Order < 0 || *in.Order > maxOrder) {
		return nil, apperr.Field("order", "order must be between 0 and %d", maxOrder)
	}
	if c.Title, err = validText("title", in.Title, maxTitle); err != nil {
		return nil, err
	}
	if c.Body, err = validText("body", in.Body, maxBody); err != nil {
		return nil, err
	}
	if err := validImageKey(c.ImageKey); err != nil {
		return nil, err
	}
	if c.ImageKey != "" {
		if _, err := s.Images.Stat(ctx, media.Images, c.ImageKey); apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Field("image_key", "no uploaded image has the key %q", c.ImageKey)
		} else if err != nil {
			return nil, err
		}
	}
	defer apperr.Wrapf(&err, "create what's-new card for %s build %d", c.AppID, c.BuildNumber)
	if in.Order != nil {
		c.Order = *in.Order
		return s.insert(ctx, c)
	}
	// The next free position; another instance may take it first, and the _id index then says
	// so, so try again with a fresh view.
	unlock := s.DB.Lock("whatsnew:" + CardID(c.AppID, c.BuildNumber, 0))
	defer unlock()
	for range 3 {
		if err := s.Refresh(ctx); err != nil {
			return nil, err
		}
		all, err := s.all(ctx)
		if err != nil {
			return nil, err
		}
		c.Order = nextOrder(all, c.AppID, c.BuildNumber)
		if c.Order > maxOrder {
			return nil, apperr.Field("order", "build %d already has the most cards allowed", c.BuildNumber)
		}
		created, err := s.insert(ctx, c)
		if !apperr.Is(err, apperr.Conflict) {
			return created, err
		}
	}
	return nil, apperr.New(apperr.Conflict, "cards were added to build %d at the same time; try again", c.BuildNumber)
}

func (s *Service) insert(ctx context.Context, c Card) (*Card, error) {
	c.ID = CardID(c.AppID, c.BuildNumber, c.Order)
	if _, err := s.coll().InsertOne(ctx, c); err != nil {
		if mongodb.IsDuplicateKey(err) {
			return nil, apperr.Wrap(err, apperr.Conflict, "build %d of %s already has a card at order %d", c.BuildNumber, c.AppID, c.Order)
		}
		return nil, mongodb.Translate(err, "card")
	}
	s.view.RefreshAfterWrite(ctx, s.load)
	return &c, nil
}

// nextOrder is the position after the last card of the build (0 for its first card), or, when
// that is past maxOrder (a card placed at the end by hand), the first free one: one card at
// order 1000 once blocked every later card of its build. Past maxOrder: every position is taken.
func nextOrder(all []Card, appID string, build int) int {
	next := 0
	used := map[int]bool{}
	for _, c := range all {
		if c.AppID == appID && c.BuildNumber == build {
			used[c.Order] = true
			next = max(next, c.Order+1)
		}
	}
	if next <= maxOrder {
		return next
	}
	for o := 0; o <= maxOrder; o++ {
		if !used[o] {
			return o
		}
	}
	return maxOrder + 1
}

// List returns the cards of one app ("" for every app), by app, build and order. It returns
// forbidden unless the actor has role ops, invalid (field app) for a malformed app id, and
// unavailable when the database cannot be reached.
func (s *Service) List(ctx context.Context, actor *auth.Principal, appID string) ([]Card, error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return nil, err
	}
	if appID != "" {
		if err := validAppID("app", appID); err != nil {
			return nil, err
		}
	}
	// Ops expect to see what another instance just wrote, so this read goes to the database.
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []Card
	for _, c := range all {
		if appID == "" || c.AppID == appID {
			out = append(out, c)
		}
	}
	return out, nil
}

// Delete removes a card. It returns forbidden unless the actor has role ops, not_found for an
// unknown id, and unavailable when the database cannot be reached.
func (s *Service) Delete(ctx context.Context, actor *auth.Principal, id string) (err error) {
	if err := auth.RequireRole(actor, auth.RoleOps); err != nil {
		return err
	}
	defer apperr.Wrapf(&err, "delete what's-new card %s", id)
	res, err := s.coll().DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return mongodb.Translate(err, "card")
	}
	if res.DeletedCount == 0 {
		return apperr.New(apperr.NotFound, "what's-new card not found")
	}
	s.view.RefreshAfterWrite(ctx, s.load)
	return nil
}
