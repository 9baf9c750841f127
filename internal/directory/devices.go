package directory

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Device is an installation of a mobile app that a user checked in from. Its _id is
// "<user id>/<device id>", so two users reporting the same device id get separate records and a
// user can only ever address their own. The push token itself is never sent back to clients.
type Device struct {
	Key          string    `bson:"_id" json:"-"`
	UserID       string    `bson:"user_id" json:"-"`
	DeviceID     string    `bson:"device_id" json:"device_id"`
	Platform     string    `bson:"platform" json:"platform"`
	Model        string    `bson:"model" json:"model"`
	OSVersion    string    `bson:"os_version" json:"os_version"`
	AppID        string    `bson:"app_id" json:"app_id"`
	AppVersion   string    `bson:"app_version" json:"app_version"`
	BuildNumber  int64     `bson:"build_number" json:"build_number"`
	Channel      string    `bson:"channel" json:"channel"`
	Locale       string    `bson:"locale" json:"locale"`
	Timezone     string    `bson:"timezone" json:"timezone"`
	PushToken    string    `bson:"push_token" json:"-"`
	PushEnabled  bool      `bson:"push_enabled" json:"push_enabled"`
	HasPushToken bool      `bson:"-" json:"has_push_token"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
	LastSeenAt   time.Time `bson:"last_seen_at" json:"last_seen_at"`
}

// DeviceInput is what an app reports at check-in. It replaces the previous report entirely: an
// empty PushToken removes the device's token.
type DeviceInput struct {
	Platform    string `json:"platform"`
	Model       string `json:"model"`
	OSVersion   string `json:"os_version"`
	AppID       string `json:"app_id"`
	AppVersion  string `json:"app_version"`
	BuildNumber int64  `json:"build_number"`
	Channel     string `json:"channel"`
	Locale      string `json:"locale"`
	Timezone    string `json:"timezone"`
	PushToken   string `json:"push_token"`
	PushEnabled bool   `json:"push_enabled"`
}

// Devices is the device registry and the owner of push-token ownership.
type Devices struct {
	DB  *mongodb.DB
	Now clock.Func
	// View, when set, is kept up to date with every device this service writes.
	View *RecipientView
	// Usage, when set, records an app_start (with app, build and platform) at each check-in.
	Usage UsageRecorder
	// Channels, when set, decides the release channel a checking-in device is stored with (see
	// ChannelRule), and which devices Reassess moves off theirs; unset, the channel the app
	// reports is stored.
	Channels ChannelRule
}

// ChannelRule decides the release channel a device counts in. The app reports the channel of
// the build it runs, but only the release service knows whether its user is a member of that
// channel; channel audiences must not take the app's word (updates.Service implements it).
type ChannelRule interface {
	DeviceChannel(ctx context.Context, p *auth.Principal, appID, channel string) (string, error)
}

const (
	devicesCollection    = "devices"
	pushTokensCollection = "push_tokens"
)

func (s *Devices) devices() *mongo.Collection { return s.DB.Collection(devicesCollection) }
func (s *Devices) tokens() *mongo.Collection  { return s.DB.Collection(pushTokensCollection) }

func deviceKey(userID, deviceID string) string { return userID + "/" + deviceID }

func deviceLock(key string) string { return "directory/device:" + key }

// EnsureIndexes creates the index that serves a user's device list.
func (s *Devices) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, s.devices(),
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "last_seen_at", Value: -1}}})
}

// List returns the caller's devices, most recently seen first. It returns unauthorized without a
// principal.
func (s *Devices) List(ctx context.Context, p *auth.Principal) ([]Device, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	opts := options.Find().SetSort(bson.D{{Key: "last_seen_at", Value: -1}, {Key: "_id", Value: 1}})
	cur, err := s.devices().Find(ctx, bson.D{{Key: "user_id", Value: p.UserID}}, opts)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", mongodb.Translate(err, "device"))
	}
	devices := []Device{}
	if err := cur.All(ctx, &devices); err != nil {
		return nil, fmt.Errorf("list devices: %w", mongodb.Translate(err, "device"))
	}
	for i := range devices {
		devices[i].HasPushToken = devices[i].PushToken != ""
	}
	return devices, nil
}

// ByApp returns the devices that last checked in with one of appIDs (an app checks in with its
// slug or its package name / bundle id), on platform, or on every platform when platform is "".
// It is for ops numbers: it reads the whole registry's matching part. It returns unavailable when
// the database fails.
func (s *Devices) ByApp(ctx context.Context, appIDs []string, platform string) ([]Device, error) {
	filter := bson.D{{Key: "app_id", Value: bson.D{{Key: "$in", Value: appIDs}}}}
	if platform != "" {
		filter = append(filter, bson.E{Key: "platform", Value: platform})
	}
	return mongodb.FindAll[Device](ctx, s.devices(), filter, "devices")
}

// Delete removes one of the caller's devices and releases its push token. It returns
// unauthorized without a principal and not_found when the caller has no such device, whoever
// else might.
func (s *Devices) Delete(ctx context.Context, p *auth.Principal, deviceID string) error {
	if p == nil {
		return apperr.New(apperr.Unauthorized, "authentication required")
	}
	key := deviceKey(p.UserID, deviceID)
	unlock := s.DB.Lock(deviceLock(key))
	var d Device
	err := s.devices().FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	if err == nil {
		s.View.deleteDevice(key)
	}
	unlock()
	if err != nil {
		return fmt.Errorf("delete device %s: %w", key, mongodb.Translate(err, "device"))
	}
	return s.releaseToken(ctx, d.PushToken, key)
}
