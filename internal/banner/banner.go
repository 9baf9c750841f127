// Package banner keeps the login-page carousel: banners that ops schedule with a display window
// and an image from the media Images bucket. The login page is shown before sign-in, so the
// public list needs no token and shows only what is meant for everyone: public banners inside
// their window, with a short-lived image URL and none of the internal fields.
//
// Banners live in the small collection "banners" and are served from an in-memory view (see
// view.go): reloaded at once after a write here and every few seconds for the writes of other
// instances, because on the embedded FerretDB every query scans the collection.
package banner

import (
	"context"
	"net/url"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// coll is the collection of banners, one document per banner.
const coll = "banners"

// Images is the part of the object storage banners use (media.Store implements it): checking
// that an uploaded image exists and presigning its download.
type Images interface {
	// Stat returns not_found for a missing object.
	Stat(ctx context.Context, bucket media.Bucket, key string) (media.ObjectInfo, error)
	// PresignGet returns a URL that downloads the object until expiry.
	PresignGet(ctx context.Context, bucket media.Bucket, key string, expiry time.Duration, downloadName string) (*url.URL, error)
}

var _ Images = media.Store(nil)

// Banner is a carousel banner as ops manage it.
type Banner struct {
	ID       string    `json:"id" bson:"_id"`
	Title    string    `json:"title" bson:"title"`
	ImageKey string    `json:"image_key" bson:"image_key"`
	Link     string    `json:"link" bson:"link"` // "" when the banner opens nothing
	StartsAt time.Time `json:"starts_at" bson:"starts_at"`
	EndsAt   time.Time `json:"ends_at" bson:"ends_at"`
	Order    int       `json:"order" bson:"order"`
	Public   bool      `json:"public" bson:"public"`
	// CreatedBy is the ops user who created the banner.
	CreatedBy string    `json:"created_by" bson:"created_by"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`
	// Rev changes with every update, which is written only over the Rev it read (banners stored
	// before it have none).
	Rev string `json:"-" bson:"rev,omitempty"`
}

// ActiveAt reports whether the banner's window contains t: starts_at <= t < ends_at.
func (b *Banner) ActiveAt(t time.Time) bool {
	return !t.Before(b.StartsAt) && t.Before(b.EndsAt)
}

// Service manages banners and renders the public list.
type Service struct {
	DB     *mongodb.DB
	Images Images
	// Now is the clock; nil means time.Now.
	Now clock.Func

	view   mongodb.View[Banner]
	pageMu sync.Mutex
	page   *PublicPage // the last rendered public list, reused while fresh (public.go)
}

func (s *Service) coll() *mongo.Collection { return s.DB.Collection(coll) }
