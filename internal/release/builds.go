package release

import (
	"bytes"
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release/artifact"
	"github.com/mportal/mportal/media"
)

// BuildInput turns an uploaded file into a build.
type BuildInput struct {
	UploadKey string            `json:"upload_key"`
	Notes     map[string]string `json:"notes"`
}

// CreateBuild reads the uploaded file's metadata from object storage (ranged reads), checks it
// against the app, moves it to the artifacts bucket with its SHA-256, stores its icon and
// records the build. It returns forbidden unless the actor has role ops or admin; not_found for
// an unknown app or a missing upload; invalid for a bad upload key, a file that is not an APK or
// IPA of the upload's platform, a hostile or corrupt archive, or a package id that is not the
// app's; too_large for an oversized file or archive part; and conflict when the build number was
// already uploaded.
func (s *Service) CreateBuild(ctx context.Context, actor *auth.Principal, appID string, in BuildInput) (_ *Build, err error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appID)
	if err != nil {
		return nil, err
	}
	plat, err := parseUploadKey(app.ID, in.UploadKey)
	if err != nil {
		return nil, err
	}
	// A refused file is useless: remove it rather than leave it in the uploads bucket. Failures
	// worth retrying (storage or database unavailable) keep it.
	defer func() {
		if c := apperr.CodeOf(err); c == apperr.Invalid || c == apperr.TooLarge || c == apperr.Conflict {
			if derr := s.Store.Delete(context.WithoutCancel(ctx), media.Uploads, in.UploadKey); derr != nil {
				s.log().Warn("release: delete refused upload", "key", in.UploadKey, "error", derr.Error())
			}
		}
	}()
	notes, notesHTML, err := renderNotes(in.Notes)
	if err != nil {
		return nil, err
	}
	md, size, err := s.inspect(ctx, media.Uploads, in.UploadKey)
	if err != nil {
		return nil, err
	}
	if err := checkIdentity(app, plat, md); err != nil {
		return nil, err
	}
	b := Build{
		ID: BuildID(app.ID, plat, md.BuildNumber), PublicID: PublicBuildID(plat, md.BuildNumber), AppID: app.ID,
		Platform: plat, Build: md.BuildNumber, Version: md.VersionName, PackageID: md.PackageID, MinOS: md.MinOS,
		DisplayName: md.DisplayName, Size: size, ObjectKey: app.ID + "/" + string(plat) + "/" + itoa(md.BuildNumber) + fileExt(plat),
		Notes: notes, NotesHTML: notesHTML, UploadedBy: actor.UserID, UploadedAt: s.Now.Stored(),
	}
	// The claim reserves the build number before anything is written under its key, so that a
	// duplicate upload can never overwrite the artifact of the build that got there first.
	won, err := mongodb.Claim(ctx, s.coll(metaColl), buildClaimID(b.ID), nil)
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, apperr.New(apperr.Conflict, "build %d of %s for %s was already uploaded", b.Build, app.ID, plat)
	}
	defer func() {
		if err != nil {
			s.discard(ctx, &b)
		}
	}()
	if b.SHA256, err = s.copyArtifact(ctx, in.UploadKey, b.ObjectKey, size, plat); err != nil {
		return nil, err
	}
	// The upload URL stays valid for minutes: check that the bytes copied are the bytes inspected.
	again, _, err := s.inspect(ctx, media.Artifacts, b.ObjectKey)
	if err != nil {
		return nil, err
	}
	if again.PackageID != md.PackageID || again.BuildNumber != md.BuildNumber || again.VersionName != md.VersionName {
		return nil, apperr.New(apperr.Conflict, "the upload was replaced while it was processed; upload it again")
	}
	if len(md.Icon) > 0 && !md.IconCgBI { // Xcode-crushed PNGs do not display in browsers
		key := "release-icons/" + app.ID + "/" + b.PublicID + ".png"
		if _, err := s.Store.Put(ctx, media.Images, key, bytes.NewReader(md.Icon), int64(len(md.Icon)), "image/png"); err != nil {
			return nil, err
		}
		b.IconKey = key
	}
	if _, err := s.coll(buildsColl).InsertOne(ctx, b); err != nil {
		return nil, mongodb.Translate(err, "build")
	}
	if err := s.Store.Delete(ctx, media.Uploads, in.UploadKey); err != nil {
		s.log().Warn("release: delete processed upload", "key", in.UploadKey, "error", err.Error())
	}
	s.changed(ctx)
	return &b, nil
}

func buildClaimID(buildID string) string { return "build:" + buildID }

// inspect parses the metadata of an object through ranged reads.
func (s *Service) inspect(ctx context.Context, bucket media.Bucket, key string) (*artifact.Metadata, int64, error) {
	r, size, err := s.Store.ReaderAt(ctx, bucket, key)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, 0, apperr.Field("upload_key", "nothing was uploaded under upload_key (or it was already used)")
		}
		return nil, 0, err
	}
	if size > MaxBuildSize {
		return nil, 0, apperr.New(apperr.TooLarge, "builds are at most %d bytes", MaxBuildSize)
	}
	md, err := artifact.Inspect(r, size, s.Limits)
	if err != nil {
		return nil, 0, err
	}
	return md, size, nil
}

// checkIdentity rejects a build for another platform or another app.
func checkIdentity(app *App, plat Platform, md *artifact.Metadata) error {
	want := app.packageFor(plat)
	switch {
	case string(plat) != md.Platform:
		return apperr.Field("upload_key", "the file is an %s build, but the upload was started for %s", md.Platform, plat)
	case want == "":
		return apperr.Field("upload_key", "app %s has no %s identity", app.ID, plat)
	case md.PackageID != want:
		return apperr.Field("upload_key", "the build's package id %s is not the app's %s", md.PackageID, want)
	}
	return nil
}

// discard removes whatever a failed or deleted build left: its objects, document and claim.
func (s *Service) discard(ctx context.Context, b *Build) {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	errs = append(errs, s.Store.Delete(ctx, media.Artifacts, b.ObjectKey))
	if b.IconKey != "" {
		errs = append(errs, s.Store.Delete(ctx, media.Images, b.IconKey))
	}
	_, err := s.coll(buildsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: b.ID}})
	errs = append(errs, err)
	_, err = s.coll(metaColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: buildClaimID(b.ID)}})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		s.log().Warn("release: discard build", "build", b.ID, "error", err.Error())
	}
}

// ListBuilds returns an app's builds, newest first, of one platform or ("" ) both. It returns
// forbidden unless the actor has role ops or admin, not_found for an unknown app and invalid
// (field platform) for a bad platform.
func (s *Service) ListBuilds(ctx context.Context, actor *auth.Principal, appID string, plat Platform) ([]Build, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if _, err := s.app(ctx, appID); err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "app_id", Value: appID}}
	if plat != "" {
		if err := validPlatform("platform", plat); err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{Key: "platform", Value: plat})
	}
	return mongodb.FindAll[Build](ctx, s.coll(buildsColl), filter, "builds",
		options.Find().SetSort(bson.D{{Key: "build", Value: -1}, {Key: "platform", Value: 1}}))
}

func (s *Service) build(ctx context.Context, appID, publicID string) (*Build, error) {
	plat, n, err := parsePublicBuildID(publicID)
	if err != nil {
		return nil, err
	}
	return findOne[Build](ctx, s.coll(buildsColl), BuildID(appID, plat, n), "build")
}
