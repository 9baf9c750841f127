package media

import (
	"context"
	"net/url"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// MaxPlaybackExpiry bounds presigned URLs of video segments and offline copies. A player
// fetches a VOD playlist once and its segments for as long as the video plays, so those URLs
// must outlive the video (at most 15 minutes long by default) plus pauses; two hours covers
// that and keeps a leaked segment URL short-lived.
const MaxPlaybackExpiry = 2 * time.Hour

// PresignPlayback returns a URL that downloads the object without credentials for expiry,
// which is rounded up to whole seconds and capped at MaxPlaybackExpiry (zero or negative means
// DefaultPresignExpiry). Like PresignGet it makes no network call; a malformed key returns
// invalid.
func (m *MinIO) PresignPlayback(ctx context.Context, bucket Bucket, key string, expiry time.Duration) (_ *url.URL, err error) {
	defer apperr.Wrapf(&err, "media: presign playback %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return nil, err
	}
	switch {
	case expiry <= 0:
		expiry = DefaultPresignExpiry
	case expiry > MaxPlaybackExpiry:
		expiry = MaxPlaybackExpiry
	}
	expiry = (expiry + time.Second - 1).Truncate(time.Second)
	u, err := m.signer.PresignedGetObject(ctx, m.bucketName(bucket), key, expiry, nil)
	if err != nil {
		return nil, translate(err)
	}
	return u, nil
}
