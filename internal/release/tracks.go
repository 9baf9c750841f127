package release

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// maxCASAttempts bounds the retries of a track change that keeps losing its compare-and-swap to
// other writers (other instances on MongoDB).
const maxCASAttempts = 20

// updateTrack applies change to a track with compare-and-swap on Track.Version, under
// db.Lock(track id): on the embedded database the lock serializes the writers (its CAS alone
// loses writes), on MongoDB the lock is a no-op and the version filter makes the update atomic;
// a lost race re-reads and applies change again. create makes a missing track (a first
// publish); otherwise a missing track is not_found. change returns an error to abort.
func (s *Service) updateTrack(ctx context.Context, appID string, plat Platform, channel string, create bool, change func(*Track) error) (*Track, error) {
	id := TrackID(appID, plat, channel)
	defer s.DB.Lock(id)()
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		t, err := findOne[Track](ctx, s.coll(tracksColl), id, "track")
		switch {
		case apperr.Is(err, apperr.NotFound) && create:
			t = &Track{ID: id, AppID: appID, Platform: plat, Channel: channel}
		case err != nil:
			return nil, err
		}
		prev := t.Version
		if err := change(t); err != nil {
			return nil, err
		}
		t.Version, t.UpdatedAt = prev+1, s.Now.Stored()
		if t.Releases == nil {
			t.Releases = []Release{}
		}
		if prev == 0 {
			if _, err := s.coll(tracksColl).InsertOne(ctx, t); err == nil {
				return t, nil
			} else if !mongodb.IsDuplicateKey(err) {
				return nil, mongodb.Translate(err, "track")
			}
			continue // another instance created it first
		}
		res, err := s.coll(tracksColl).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "version", Value: prev}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "releases", Value: t.Releases}, {Key: "min_build", Value: t.MinBuild},
				{Key: "version", Value: t.Version}, {Key: "updated_at", Value: t.UpdatedAt},
			}}})
		if err != nil {
			return nil, mongodb.Translate(err, "track")
		}
		if res.MatchedCount == 1 {
			return t, nil
		}
	}
	return nil, apperr.New(apperr.Conflict, "the track changed too often meanwhile; try again")
}

// tracks returns an app's tracks by id.
func (s *Service) tracks(ctx context.Context, appID string) ([]Track, error) {
	ts, err := mongodb.FindAll[Track](ctx, s.coll(tracksColl), bson.D{{Key: "app_id", Value: appID}}, "tracks",
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	for i := range ts {
		if ts[i].Releases == nil {
			ts[i].Releases = []Release{}
		}
	}
	return ts, err
}
