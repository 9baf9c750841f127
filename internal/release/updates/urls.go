package updates

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/artifact"
	"github.com/mportal/mportal/media"
)

// Signed URLs are valid for URLLifetime and handed out again for at most URLReuse after they were
// made, so every URL a client receives still has at least URLLifetime-URLReuse (10 minutes) to
// run, and nothing cached outlives the 15-minute bound on presigned URLs.
const (
	URLLifetime = media.MaxPresignExpiry
	URLReuse    = 5 * time.Minute
)

// signedURL is a URL, the moment it stops being handed out and the moment it expires.
type signedURL struct {
	url        string
	reuseUntil time.Time
	expires    time.Time
}

// downloadURL returns a presigned GET of the build's file, reusing a recent one. Presigning is
// local (the MinIO client knows its region), so a miss costs CPU, not a round trip.
// now is the service's clock, read once by the caller for the whole check.
func (s *Service) downloadURL(ctx context.Context, b *buildView, now time.Time) (*signedURL, error) {
	if c := b.downloadURL.Load(); c != nil && now.Before(c.reuseUntil) {
		return c, nil
	}
	u, err := s.Store.PresignGet(ctx, media.Artifacts, b.build.ObjectKey, URLLifetime, downloadName(b.build))
	if err != nil {
		return nil, err
	}
	c := &signedURL{url: u.String(), reuseUntil: now.Add(URLReuse), expires: now.Add(URLLifetime)}
	b.downloadURL.Store(c)
	return c, nil
}

// downloadName is the file name browsers save a build under: "<app>-<version>.apk". The app id
// is a slug; a version may hold a / or \ (a build's versionName is the developer's free text,
// "2.3.0/hotfix" parses), which a file name cannot: each becomes "-". Left in, the download link
// was refused, and every update check offering the build answered 400.
func downloadName(b *release.Build) string {
	ext := ".apk"
	if b.Platform == release.IOS {
		ext = ".ipa"
	}
	return b.AppID + "-" + strings.NewReplacer("/", "-", "\\", "-").Replace(b.Version) + ext
}

// installURL returns the itms-services:// link to the signed manifest.plist URL of an iOS
// build, reusing a recent one.
func (s *Service) installURL(appID string, b *buildView, now time.Time) *signedURL {
	if c := b.installURL.Load(); c != nil && now.Before(c.reuseUntil) {
		return c
	}
	expires := now.Add(URLLifetime).Unix()
	manifest := s.PublicBaseURL + "/v1/apps/" + url.PathEscape(appID) + "/builds/" + url.PathEscape(b.build.PublicID) +
		"/manifest.plist?expires=" + strconv.FormatInt(expires, 10) + "&sig=" + s.Signer.Sign(appID, b.build.PublicID, expires)
	c := &signedURL{url: artifact.InstallURL(manifest), reuseUntil: now.Add(URLReuse), expires: time.Unix(expires, 0)}
	b.installURL.Store(c)
	return c
}

// ManifestSigner signs manifest URLs. iOS fetches the manifest without the app's credentials, so
// the URL itself carries the authorization: an HMAC over app, build and expiry, with a key every
// instance derives from the shared JWT signing key.
type ManifestSigner struct {
	key []byte
}

// NewManifestSigner returns a signer with key, which must be secret and at least 32 bytes.
func NewManifestSigner(key []byte) *ManifestSigner {
	return &ManifestSigner{key: append([]byte(nil), key...)}
}

// Sign returns the hex HMAC-SHA256 of the app, build and expiry (Unix seconds).
func (m *ManifestSigner) Sign(appID, buildID string, expires int64) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(appID))
	mac.Write([]byte{0})
	mac.Write([]byte(buildID))
	mac.Write([]byte{0})
	mac.Write(strconv.AppendInt(nil, expires, 10))
	return hex.EncodeToString(mac.Sum(nil))
}

// Valid reports whether sig signs (appID, buildID, expires) and expires is in the future but not
// beyond URLLifetime from now.
func (m *ManifestSigner) Valid(appID, buildID string, expires int64, sig string, now time.Time) bool {
	got, err := hex.DecodeString(sig)
	if err != nil || expires <= now.Unix() || expires > now.Add(URLLifetime).Unix()+1 {
		return false
	}
	want, _ := hex.DecodeString(m.Sign(appID, buildID, expires))
	return hmac.Equal(got, want)
}
