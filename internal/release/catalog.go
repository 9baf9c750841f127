package release

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
)

// Catalog is every app, channel, membership, build and track: what the update check serves
// from memory.
type Catalog struct {
	Apps     []App
	Channels []Channel
	Members  []Member
	Builds   []Build
	Tracks   []Track
}

// Generation returns the token that every write to the catalog changes (see generationID), or ""
// before the first write. It costs one read of a one-document collection, so every instance can
// poll it. It returns unavailable when the database fails.
func (s *Service) Generation(ctx context.Context) (string, error) {
	var doc struct {
		Token string `bson:"token"`
	}
	err := s.coll(metaColl).FindOne(ctx, bson.D{{Key: "_id", Value: generationID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", mongodb.Translate(err, "release generation")
	}
	return doc.Token, nil
}

// Catalog reads the whole catalog. A write that lands during the read may be seen in part: read
// Generation first, and again later, to know whether to read it again. It returns unavailable
// when the database fails.
func (s *Service) Catalog(ctx context.Context) (*Catalog, error) {
	var c Catalog
	var err error
	if c.Apps, err = mongodb.FindAll[App](ctx, s.coll(appsColl), bson.D{}, "apps"); err != nil {
		return nil, err
	}
	if c.Channels, err = mongodb.FindAll[Channel](ctx, s.coll(channelsColl), bson.D{}, "channels"); err != nil {
		return nil, err
	}
	if c.Members, err = mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{}, "channel members"); err != nil {
		return nil, err
	}
	if c.Builds, err = mongodb.FindAll[Build](ctx, s.coll(buildsColl), bson.D{}, "builds"); err != nil {
		return nil, err
	}
	if c.Tracks, err = mongodb.FindAll[Track](ctx, s.coll(tracksColl), bson.D{}, "tracks"); err != nil {
		return nil, err
	}
	return &c, nil
}
