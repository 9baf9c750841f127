package release

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// AppInput creates an app.
type AppInput struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	AndroidPackage string `json:"android_package"`
	IOSBundleID    string `json:"ios_bundle_id"`
}

// AppPatch changes an app; nil fields stay as they are, "" removes a package id.
type AppPatch struct {
	Name           *string `json:"name"`
	AndroidPackage *string `json:"android_package"`
	IOSBundleID    *string `json:"ios_bundle_id"`
}

// CreateApp creates an app with its alpha, beta and stable channels. It returns forbidden unless
// the actor has role ops or admin, invalid (with the field) for bad input and conflict when the
// id is taken.
func (s *Service) CreateApp(ctx context.Context, actor *auth.Principal, in AppInput) (*App, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if err := validSlug("id", in.ID); err != nil {
		return nil, err
	}
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := validPackages(in.AndroidPackage, in.IOSBundleID); err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	app := App{ID: in.ID, Name: name, AndroidPackage: in.AndroidPackage, IOSBundleID: in.IOSBundleID, CreatedAt: now, UpdatedAt: now}
	// The channels go first: an app document is what makes the app exist, so a crash in between
	// leaves nothing visible, and the retry finds the channels already there.
	for _, kind := range []ChannelKind{KindAlpha, KindBeta, KindStable} {
		ch := Channel{ID: ChannelID(app.ID, string(kind)), AppID: app.ID, Name: string(kind), Kind: kind, CreatedAt: now}
		if _, err := s.coll(channelsColl).InsertOne(ctx, ch); err != nil && !mongodb.IsDuplicateKey(err) {
			return nil, mongodb.Translate(err, "channel")
		}
	}
	if _, err := s.coll(appsColl).InsertOne(ctx, app); err != nil {
		if mongodb.IsDuplicateKey(err) {
			return nil, apperr.New(apperr.Conflict, "an app with id %q already exists", app.ID)
		}
		return nil, mongodb.Translate(err, "app")
	}
	s.changed(ctx)
	return &app, nil
}

// ListApps returns every app by id. It returns forbidden unless the actor has role ops or admin.
func (s *Service) ListApps(ctx context.Context, actor *auth.Principal) ([]App, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	return s.allApps(ctx)
}

func (s *Service) allApps(ctx context.Context) ([]App, error) {
	return mongodb.FindAll[App](ctx, s.coll(appsColl), bson.D{}, "apps", options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}

// GetApp returns one app. It returns forbidden unless the actor has role ops or admin, and
// not_found for an unknown id.
func (s *Service) GetApp(ctx context.Context, actor *auth.Principal, appID string) (*App, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	return s.app(ctx, appID)
}

func (s *Service) app(ctx context.Context, appID string) (*App, error) {
	if validSlug("app_id", appID) != nil {
		return nil, apperr.New(apperr.NotFound, "app not found")
	}
	return findOne[App](ctx, s.coll(appsColl), appID, "app")
}

// UpdateApp changes an app's name or package ids. Builds already uploaded keep the package id
// they were checked against. It returns forbidden unless the actor has role ops or admin,
// not_found for an unknown id and invalid (with the field) for bad input.
func (s *Service) UpdateApp(ctx context.Context, actor *auth.Principal, appID string, in AppPatch) (*App, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	defer s.DB.Lock("release-app:" + appID)()
	app, err := s.app(ctx, appID)
	if err != nil {
		return nil, err
	}
	// Only the changed fields are written, so on MongoDB (where Lock is a no-op) two concurrent
	// edits of different fields both survive.
	set := bson.D{}
	if in.Name != nil {
		if app.Name, err = validName(*in.Name); err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "name", Value: app.Name})
	}
	if in.AndroidPackage != nil {
		app.AndroidPackage = *in.AndroidPackage
		set = append(set, bson.E{Key: "android_package", Value: app.AndroidPackage})
	}
	if in.IOSBundleID != nil {
		app.IOSBundleID = *in.IOSBundleID
		set = append(set, bson.E{Key: "ios_bundle_id", Value: app.IOSBundleID})
	}
	if err := validPackages(app.AndroidPackage, app.IOSBundleID); err != nil {
		return nil, err
	}
	app.UpdatedAt = s.Now.Stored()
	set = append(set, bson.E{Key: "updated_at", Value: app.UpdatedAt})
	if _, err := s.coll(appsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: app.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return nil, mongodb.Translate(err, "app")
	}
	s.changed(ctx)
	return app, nil
}
