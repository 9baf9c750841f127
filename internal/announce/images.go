package announce

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/media"
)

// MaxImageSize is the largest image ops may upload.
const MaxImageSize = 5 << 20

// ImageURLExpiry is the lifetime of an image's presigned download URL.
const ImageURLExpiry = 5 * time.Minute

// imageTypes maps the accepted image types to their key extensions.
var imageTypes = map[string]string{"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

// imageKey is the shape of the keys UploadImage makes; anything else is not an image.
var imageKey = regexp.MustCompile(`^[0-9a-f]{32}\.(png|jpg|webp)$`)

// UploadImage stores an image for announcements (a cover or an inline picture) under a new
// random key and returns the key. contentType must be image/png, image/jpeg or image/webp and
// the bytes must be one, as sniffed; a type that lies is refused. It returns forbidden unless the
// actor has role ops, unsupported_media_type for another type, too_large above MaxImageSize,
// invalid for an empty body or bytes of another type, and unavailable when the storage cannot
// be reached.
func (s *Service) UploadImage(ctx context.Context, actor *auth.Principal, contentType string, data []byte) (key string, err error) {
	if err := requireOps(actor); err != nil {
		return "", err
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	mt = strings.ToLower(mt)
	ext, ok := imageTypes[mt]
	switch {
	case !ok:
		return "", apperr.New(apperr.UnsupportedMedia, "Content-Type must be image/png, image/jpeg or image/webp")
	case len(data) > MaxImageSize:
		return "", apperr.New(apperr.TooLarge, "the image is over %d bytes", MaxImageSize)
	case len(data) == 0:
		return "", apperr.New(apperr.Invalid, "the image is empty")
	}
	if sniffed := http.DetectContentType(data); sniffed != mt {
		return "", apperr.New(apperr.Invalid, "the bytes are not a %s image", mt)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("image key: %w", err)
	}
	key = hex.EncodeToString(b) + "." + ext
	if _, err := s.Images.Put(ctx, media.Images, key, bytes.NewReader(data), int64(len(data)), mt); err != nil {
		return "", fmt.Errorf("upload image: %w", err)
	}
	return key, nil
}

// ImageURL returns a presigned URL that downloads an uploaded image for ImageURLExpiry, and
// when it expires. Any signed-in user may fetch images: they only appear in announcements, and
// their keys are unguessable. It returns unauthorized without a principal, not_found for a key
// that names no image, and unavailable when the storage cannot be reached.
func (s *Service) ImageURL(ctx context.Context, p *auth.Principal, key string) (*url.URL, time.Time, error) {
	if p == nil {
		return nil, time.Time{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if err := s.checkImage(ctx, key); err != nil {
		return nil, time.Time{}, err
	}
	expires := s.Now.Stored().Add(ImageURLExpiry)
	u, err := s.Images.PresignGet(ctx, media.Images, key, ImageURLExpiry, "")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("image url %s: %w", key, err)
	}
	return u, expires, nil
}

// checkImage returns not_found unless key names an uploaded image.
func (s *Service) checkImage(ctx context.Context, key string) error {
	if !imageKey.MatchString(key) {
		return apperr.New(apperr.NotFound, "image not found")
	}
	if _, err := s.Images.Stat(ctx, media.Images, key); err != nil {
		return fmt.Errorf("image %s: %w", key, err)
	}
	return nil
}
