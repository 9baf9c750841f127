package updates

import (
	"cmp"
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/artifact"
	"github.com/mportal/mportal/media"
)

// Manifest returns the manifest.plist of an iOS build for a request carrying a manifest URL's
// expiry and signature. The IPA URL inside is presigned afresh. It returns not_found for a bad,
// expired or tampered signature and for an unknown build, so a probe learns nothing.
func (s *Service) Manifest(ctx context.Context, appID, buildID string, expires int64, sig string) ([]byte, error) {
	if !s.Signer.Valid(appID, buildID, expires, sig, s.Now.UTC()) {
		return nil, apperr.New(apperr.NotFound, "manifest not found or its link expired")
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return nil, err
	}
	a, b := snap.build(appID, buildID)
	if b == nil || b.build.Platform != release.IOS {
		return nil, apperr.New(apperr.NotFound, "manifest not found or its link expired")
	}
	u, err := s.Store.PresignGet(ctx, media.Artifacts, b.build.ObjectKey, URLLifetime, "")
	if err != nil {
		return nil, err
	}
	return artifact.ManifestPlist(artifact.ManifestInput{
		URL: u.String(), BundleID: b.build.PackageID, BundleVersion: b.build.Version,
		Title: cmp.Or(b.build.DisplayName, a.app.Name), SHA256: b.build.SHA256, Size: b.build.Size,
	})
}

// Download returns a presigned URL of a build's file, and when it expires, and records that the caller downloaded it
// (once per user and build: the record's _id is "<build _id>/<user id>"). The caller must be
// offered the build on a channel they are in, or hold ops or admin; anyone else gets not_found,
// as for an unknown app or build. It returns unavailable when the database or storage fails.
func (s *Service) Download(ctx context.Context, p *auth.Principal, appID, buildID string) (string, time.Time, error) {
	if p == nil {
		return "", time.Time{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	a, b := snap.build(appID, buildID)
	if b == nil || !(p.HasAnyRole(auth.RoleOps, auth.RoleAdmin) || a.offers(p, b)) {
		return "", time.Time{}, apperr.New(apperr.NotFound, "build not found")
	}
	_, err = mongodb.Claim(ctx, s.DB.Collection(downloadsColl), b.build.ID+"/"+p.UserID, bson.D{
		{Key: "app_id", Value: a.app.ID}, {Key: "build_id", Value: b.build.ID},
		{Key: "user_id", Value: p.UserID}, {Key: "at", Value: s.Now.UTC()},
	})
	if err != nil {
		return "", time.Time{}, err
	}
	link, err := s.downloadURL(ctx, b, s.Now.UTC())
	if err != nil {
		return "", time.Time{}, err
	}
	return link.url, link.expires, nil
}

// EnsureIndexes creates the index that serves the download counts of an app (on MongoDB; the
// embedded database scans either way).
func (s *Service) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, s.DB.Collection(downloadsColl),
		mongo.IndexModel{Keys: bson.D{{Key: "app_id", Value: 1}}})
}

// build finds an app's build by public id.
func (s *Snapshot) build(appID, buildID string) (*appView, *buildView) {
	a := s.apps[appID]
	if a == nil {
		return nil, nil
	}
	b := a.builds[buildID]
	if b == nil || b.build.PublicID != buildID {
		return a, nil
	}
	return a, b
}
