package banner

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/media"
)

// Lifetimes of the public list. The image URLs inside a rendered list are presigned for
// ImageURLLife; the list is reused for at most PublicMaxAge and clients may cache it for
// PublicMaxAge more (Cache-Control max-age), so every URL a client holds is still valid when it
// loads the image: 60 s + 60 s is well inside 5 min.
const (
	PublicMaxAge = 60 * time.Second
	ImageURLLife = media.DefaultPresignExpiry
)

// PublicBanner is a banner as the login page shows it: nothing internal.
type PublicBanner struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Link     string `json:"link"`
	ImageURL string `json:"image_url"`
	Order    int    `json:"order"`
}

// PublicPage is a rendered public list.
type PublicPage struct {
	Items []PublicBanner
	// ETag is a strong entity tag (quoted) of the banners' data (ids, update times, orders and
	// windows) and of the render: a 304 keeps the client on the image URLs it holds, so it may
	// only be answered while those URLs are the current render's (at most PublicMaxAge old).
	// Before, the tag outlived renders: clients revalidating every minute kept URLs past their
	// 5 minutes, and the images answered 403.
	ETag       string
	RenderedAt time.Time
	dataTag    string // ETag of the banners alone (see ETag): whether the render can be reused
}

// Public returns the banners the login page shows now: public ones whose window contains the
// current time, in carousel order. A rendered list is reused while its banners are unchanged and
// it is younger than PublicMaxAge. It returns unavailable when the database cannot be reached
// and the view was never loaded.
func (s *Service) Public(ctx context.Context) (*PublicPage, error) {
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	visible := Visible(all, now)
	etag := ETag(visible)

	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	if p := s.page; p != nil && p.dataTag == etag && now.Sub(p.RenderedAt) < PublicMaxAge && !now.Before(p.RenderedAt) {
		return p, nil
	}
	p := &PublicPage{Items: make([]PublicBanner, 0, len(visible)), RenderedAt: now, dataTag: etag,
		ETag: strings.TrimSuffix(etag, `"`) + "." + strconv.FormatInt(now.UnixMilli(), 36) + `"`}
	for _, b := range visible {
		u, err := s.Images.PresignGet(ctx, media.Images, b.ImageKey, ImageURLLife, "")
		if err != nil {
			return nil, err
		}
		p.Items = append(p.Items, PublicBanner{ID: b.ID, Title: b.Title, Link: b.Link, ImageURL: u.String(), Order: b.Order})
	}
	s.page = p
	return p, nil
}

// Visible returns the banners of all (in carousel order) that anyone may see at t: public and
// active (starts_at <= t < ends_at).
func Visible(all []Banner, t time.Time) []Banner {
	var out []Banner
	for i := range all {
		if all[i].Public && all[i].ActiveAt(t) {
			out = append(out, all[i])
		}
	}
	return out
}

// ETag returns the strong entity tag of a public list made of banners. Anything that changes
// what the list shows changes a banner's updated_at or order, or moves a banner in or out of the
// window, and so changes the tag.
func ETag(banners []Banner) string {
	h := sha256.New()
	var buf [8]byte
	writeInt := func(n int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	writeInt(int64(len(banners)))
	for _, b := range banners {
		writeInt(int64(len(b.ID)))
		h.Write([]byte(b.ID))
		writeInt(b.UpdatedAt.UnixMilli())
		writeInt(int64(b.Order))
		writeInt(b.StartsAt.UnixMilli())
		writeInt(b.EndsAt.UnixMilli())
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}
