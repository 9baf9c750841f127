// Package whatsnew keeps the "what's new" cards that the apps show after an update: ops attach
// one or more cards, in an order, to a build of an app, and an app that moved from build A to
// build B asks for the cards of every build after A up to B, in the user's language.
//
// Cards live in the small collection "whats_new" with _id "<app id>:<build>:<order>", so that the
// unique _id index itself enforces one card per position of a build, on MongoDB and on the
// embedded FerretDB alike. Reads are served from an in-memory view (view.go).
package whatsnew

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// coll is the collection of cards.
const coll = "whats_new"

// Images is the part of the object storage cards use (media.Store implements it).
type Images interface {
	// Stat returns not_found for a missing object.
	Stat(ctx context.Context, bucket media.Bucket, key string) (media.ObjectInfo, error)
	// PresignGet returns a URL that downloads the object until expiry.
	PresignGet(ctx context.Context, bucket media.Bucket, key string, expiry time.Duration, downloadName string) (*url.URL, error)
}

var _ Images = media.Store(nil)

// Card is a what's-new card as ops manage it. Title and Body map a locale ("zh-CN", "en") to text.
type Card struct {
	ID          string            `json:"id" bson:"_id"`
	AppID       string            `json:"app_id" bson:"app_id"`
	BuildNumber int               `json:"build_number" bson:"build_number"`
	Order       int               `json:"order" bson:"order"`
	Title       map[string]string `json:"title" bson:"title"`
	Body        map[string]string `json:"body" bson:"body"`
	ImageKey    string            `json:"image_key" bson:"image_key"` // "" when the card has no image
	CreatedBy   string            `json:"created_by" bson:"created_by"`
	CreatedAt   time.Time         `json:"created_at" bson:"created_at"`
}

// CardID is the id of the card at position order of an app's build.
func CardID(appID string, build, order int) string {
	return appID + ":" + strconv.Itoa(build) + ":" + strconv.Itoa(order)
}

// Service manages cards and serves them to the apps.
type Service struct {
	DB     *mongodb.DB
	Images Images
	// Now is the clock; nil means time.Now.
	Now clock.Func
	// Locale returns the language a user reads ("zh-CN", "en"); cards are shown in it. nil, or
	// an empty answer, means zh-CN, the default locale.
	Locale func(ctx context.Context, userID string) (string, error)
	// Builds, when set, bounds the builds whose cards a user may read (see BuildCeiling).
	Builds BuildCeiling

	view mongodb.View[Card]
}

// BuildCeiling tells the newest build of an app released on a channel the user is a member of
// (updates.Service implements it); known is false for an app not distributed here.
type BuildCeiling interface {
	HighestBuild(ctx context.Context, p *auth.Principal, appID string) (build int64, known bool, err error)
}

func (s *Service) coll() *mongo.Collection { return s.DB.Collection(coll) }
