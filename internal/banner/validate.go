package banner

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/media"
)

const (
	maxTitle = 100
	maxLink  = 2048
	// maxOrder bounds order so that it stays a small, comparable number in every client.
	maxOrder = 1_000_000
)

// Input is a new banner.
type Input struct {
	Title    string    `json:"title"`
	ImageKey string    `json:"image_key"`
	Link     string    `json:"link"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Order    int       `json:"order"`
	Public   bool      `json:"public"`
}

// Patch changes some fields of a banner; nil fields keep their value and an empty link removes
// the link.
type Patch struct {
	Title    *string    `json:"title"`
	ImageKey *string    `json:"image_key"`
	Link     *string    `json:"link"`
	StartsAt *time.Time `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
	Order    *int       `json:"order"`
	Public   *bool      `json:"public"`
}

// apply returns b with the patch's fields set.
func (p *Patch) apply(b Banner) Banner {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&b.Title, p.Title)
	set(&b.ImageKey, p.ImageKey)
	set(&b.Link, p.Link)
	if p.StartsAt != nil {
		b.StartsAt = *p.StartsAt
	}
	if p.EndsAt != nil {
		b.EndsAt = *p.EndsAt
	}
	if p.Order != nil {
		b.Order = *p.Order
	}
	if p.Public != nil {
		b.Public = *p.Public
	}
	return b
}

// normalize trims and checks a banner's own fields (not the image's existence) and stores its
// times as UTC milliseconds, the precision the database keeps.
func normalize(b *Banner) error {
	b.Title = strings.TrimSpace(b.Title)
	b.Link = strings.TrimSpace(b.Link)
	b.ImageKey = strings.TrimSpace(b.ImageKey)
	switch n := utf8.RuneCountInString(b.Title); {
	case n == 0:
		return apperr.Field("title", "title is required")
	case n > maxTitle || !utf8.ValidString(b.Title):
		return apperr.Field("title", "title must be at most %d characters", maxTitle)
	case strings.ContainsFunc(b.Title, unicode.IsControl):
		return apperr.Field("title", "title must not contain control characters")
	}
	if b.ImageKey == "" {
		return apperr.Field("image_key", "image_key is required: upload the image with POST /v1/ops/images first")
	}
	if err := media.ValidateKey(b.ImageKey); err != nil {
		return apperr.Field("image_key", "image_key is not an image key returned by POST /v1/ops/images")
	}
	if err := validLink(b.Link); err != nil {
		return err
	}
	if b.StartsAt.IsZero() {
		return apperr.Field("starts_at", "starts_at is required")
	}
	if b.EndsAt.IsZero() {
		return apperr.Field("ends_at", "ends_at is required")
	}
	for _, t := range []struct {
		field string
		v     time.Time
	}{{"starts_at", b.StartsAt}, {"ends_at", b.EndsAt}} {
		if err := clienttime.CheckWritable(t.field, t.v); err != nil {
			return err
		}
	}
	b.StartsAt = b.StartsAt.UTC().Truncate(time.Millisecond)
	b.EndsAt = b.EndsAt.UTC().Truncate(time.Millisecond)
	if !b.EndsAt.After(b.StartsAt) {
		return apperr.Field("ends_at", "ends_at must be after starts_at")
	}
	if b.Order < -maxOrder || b.Order > maxOrder {
		return apperr.Field("order", "order must be between %d and %d", -maxOrder, maxOrder)
	}
	return nil
}

// validLink accepts no link, an https URL, or an in-app deep link mportal://<route>. Anything
// else (http, javascript:, another app's scheme) could send a user who has not even signed in
// somewhere unsafe.
func validLink(link string) error {
	if link == "" {
		return nil
	}
	bad := apperr.Field("link", "link must be an https:// URL or an mportal:// deep link of at most %d characters", maxLink)
	if len(link) > maxLink || strings.ContainsFunc(link, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return bad
	}
	u, err := url.Parse(link)
	if err != nil || u.Host == "" || u.User != nil {
		return bad
	}
	if u.Scheme != "https" && u.Scheme != "mportal" {
		return bad
	}
	return nil
}

// checkImage reports an image key that names no uploaded image as invalid, so that a banner
// never shows a broken image.
func (s *Service) checkImage(ctx context.Context, key string) error {
	if _, err := s.Images.Stat(ctx, media.Images, key); err != nil {
		if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Invalid) {
			return apperr.Field("image_key", "no uploaded image has the key %q", key)
		}
		return err
	}
	return nil
}
