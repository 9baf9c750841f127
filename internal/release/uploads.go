package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/media"
)

// MaxBuildSize is the largest APK or IPA accepted.
const MaxBuildSize = 4 << 30

// uploadExpiry is how long an upload URL stays valid: the longest a presigned URL may live.
const uploadExpiry = media.MaxPresignExpiry

// uploadPrefix starts the keys of build uploads in the uploads bucket, which other features
// share.
const uploadPrefix = "release-builds/"

// UploadInput asks for an upload URL for one build file.
type UploadInput struct {
	Platform Platform `json:"platform"`
	Size     int64    `json:"size"`
	Filename string   `json:"filename"`
}

// UploadTicket tells the client where to PUT the build file.
type UploadTicket struct {
	UploadKey string    `json:"upload_key"`
	UploadURL string    `json:"upload_url"`
	Method    string    `json:"method"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StartUpload returns a presigned PUT URL into the uploads bucket: the file goes straight to
// object storage and never through mportal's memory. It returns forbidden unless the actor has
// role ops or admin, not_found for an unknown app, invalid (with the field) for a bad platform,
// file name or size, and too_large above MaxBuildSize.
func (s *Service) StartUpload(ctx context.Context, actor *auth.Principal, appID string, in UploadInput) (*UploadTicket, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	app, err := s.app(ctx, appID)
	if err != nil {
		return nil, err
	}
	if err := validPlatform("platform", in.Platform); err != nil {
		return nil, err
	}
	if app.packageFor(in.Platform) == "" {
		return nil, apperr.Field("platform", "app %s has no %s identity; set it first", app.ID, in.Platform)
	}
	ext := strings.ToLower(path.Ext(in.Filename))
	switch {
	case in.Size <= 0:
		return nil, apperr.Field("size", "size must be the file's size in bytes")
	case in.Size > MaxBuildSize:
		return nil, apperr.New(apperr.TooLarge, "builds are at most %d bytes", MaxBuildSize)
	case in.Filename != "" && ext != fileExt(in.Platform):
		return nil, apperr.Field("filename", "a %s build is a %s file", in.Platform, fileExt(in.Platform))
	}
	key := uploadPrefix + app.ID + "/" + string(in.Platform) + "/" + randomID(16) + fileExt(in.Platform)
	u, err := s.Store.PresignPut(ctx, media.Uploads, key, uploadExpiry)
	if err != nil {
		return nil, err
	}
	return &UploadTicket{UploadKey: key, UploadURL: u.String(), Method: "PUT", ExpiresAt: s.Now.Stored().Add(uploadExpiry)}, nil
}

// parseUploadKey checks that key is an upload key of this app and returns its platform.
func parseUploadKey(appID, key string) (Platform, error) {
	rest, ok := strings.CutPrefix(key, uploadPrefix+appID+"/")
	plat, name, _ := strings.Cut(rest, "/")
	p := Platform(plat)
	if !ok || validPlatform("upload_key", p) != nil || strings.Contains(name, "/") ||
		len(name) != 32+len(fileExt(p)) || !strings.HasSuffix(name, fileExt(p)) {
		return "", apperr.Field("upload_key", "upload_key is not an upload of this app")
	}
	return p, nil
}

func (a *App) packageFor(p Platform) string {
	if p == IOS {
		return a.IOSBundleID
	}
	return a.AndroidPackage
}

func fileExt(p Platform) string {
	if p == IOS {
		return ".ipa"
	}
	return ".apk"
}

func contentType(p Platform) string {
	if p == IOS {
		return "application/octet-stream"
	}
	return "application/vnd.android.package-archive"
}

// copyArtifact streams the upload into the artifacts bucket, hashing it on the way: the media
// store has no server-side copy, and one streamed pass costs the same as hashing it alone.
func (s *Service) copyArtifact(ctx context.Context, from, to string, size int64, p Platform) (string, error) {
	r, err := s.Store.Open(ctx, media.Uploads, from, 0, -1)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := s.Store.Put(ctx, media.Artifacts, to, io.TeeReader(r, h), size, contentType(p)); err != nil {
		return "", fmt.Errorf("copy build to %s: %w", to, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
