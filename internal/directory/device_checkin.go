package directory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// pushToken is a push_tokens document: the one device a token currently belongs to. A token is
// tied to an app installation, so when another user logs in on that installation the token moves
// to them, and a sender that checks TokenOwner never delivers one user's notification to another.
type pushToken struct {
	Token     string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	DeviceKey string    `bson:"device_key"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// MaxDevicesPerUser bounds the devices one user may register: every device is a record, a push
// token and a message in every fan-out to the user, and nothing else stopped one user from
// registering devices in a loop.
const MaxDevicesPerUser = 20

// checkRoom refuses a new device of userID beyond MaxDevicesPerUser (conflict); a device already
// registered always checks in. Devices not seen within push.StaleAfter (270 days: phones
// replaced long ago) do not count: before, a user who changed phones 20 times over the years
// could not register the next one. Concurrent first check-ins may pass it together: the bound
// is approximate by that many.
func (s *Devices) checkRoom(ctx context.Context, userID, key string) error {
	var n int
	seenSince := s.Now.Stored().Add(-push.StaleAfter)
	if s.View != nil {
		// The embedded database, where a query by user reads every device: the view answers
		// from memory, without a read on every check-in either.
		registered, count, err := s.View.deviceRoom(ctx, userID, key, seenSince)
		if err != nil || registered {
			return err
		}
		n = count
	} else {
		err := s.devices().FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case err == nil:
			return nil
		case !mongodb.IsNotFound(err):
			return fmt.Errorf("read device %s: %w", key, mongodb.Translate(err, "device"))
		}
		c, err := s.devices().CountDocuments(ctx, bson.D{{Key: "user_id", Value: userID},
			{Key: "last_seen_at", Value: bson.D{{Key: "$gte", Value: seenSince}}}})
		if err != nil {
			return fmt.Errorf("count devices of %s: %w", userID, mongodb.Translate(err, "device"))
		}
		n = int(c)
	}
	if n >= MaxDevicesPerUser {
		return apperr.New(apperr.Conflict, "you have %d devices registered, the most allowed; remove one (DELETE /v1/devices/{device_id}) first", n)
	}
	return nil
}

// CheckIn records the caller's device: it creates the record on first sight and otherwise
// replaces its fields and moves last_seen_at. A push token that another device held moves to
// this one and is removed from the other device. The reported channel is stored when Channels
// says the user, with the roles and department the directory stores now, is in it (else
// stable), and decided again after the write (recheckChannel). It returns unauthorized without
// a principal, invalid (with Field) for a bad field, and conflict for a new device beyond
// MaxDevicesPerUser.
func (s *Devices) CheckIn(ctx context.Context, p *auth.Principal, deviceID string, in DeviceInput) (*Device, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if err := auth.ValidateDeviceID(deviceID); err != nil {
		return nil, err
	}
	if err := in.normalize(); err != nil {
		return nil, err
	}
	if s.Channels != nil && in.Channel != DefaultChannel {
		who, err := s.current(ctx, p)
		if err != nil {
			return nil, err
		}
		if in.Channel, err = s.Channels.DeviceChannel(ctx, who, in.AppID, in.Channel); err != nil {
			return nil, err
		}
	}
	key := deviceKey(p.UserID, deviceID)
	if err := s.checkRoom(ctx, p.UserID, key); err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	// The token's owner changes first: from then on the sender refuses the token for the previous
	// device even if clearing it there fails.
	if in.PushToken != "" {
		if err := s.moveToken(ctx, in.PushToken, p.UserID, key, now); err != nil {
			return nil, err
		}
	}
	d, before, err := s.upsert(ctx, p.UserID, deviceID, in, now)
	if err != nil {
		return nil, err
	}
	if in.PushToken != "" {
		// A concurrent check-in may have taken the token between the move and the write above;
		// its clearing of this device then ran too early, so this device drops the token itself.
		_, owner, err := s.TokenOwner(ctx, in.PushToken)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
		if owner != key {
			if err := s.clearToken(ctx, key, in.PushToken); err != nil {
				return nil, err
			}
			d.PushToken, d.HasPushToken = "", false
		}
	}
	if previousToken := before.PushToken; previousToken != "" && previousToken != in.PushToken {
		if err := s.releaseToken(ctx, previousToken, key); err != nil {
			return nil, err
		}
	}
	if err := s.recheckChannel(ctx, p, d); err != nil {
		return nil, err
	}
	if s.Usage != nil {
		build := strconv.FormatInt(in.BuildNumber, 10)
		s.Usage.Record(p.UserID, deviceID, "app_start", map[string]string{
			"app": in.AppID, "build": build, "platform": in.Platform})
		if before.Key != "" && before.AppID == in.AppID && before.BuildNumber != in.BuildNumber {
			s.Usage.Record(p.UserID, deviceID, "install", map[string]string{
				"app": in.AppID, "build": build, "platform": in.Platform, "from_build": strconv.FormatInt(before.BuildNumber, 10),
				"event_id": installEventID(deviceID, in.AppID, build)})
		}
	}
	return d, nil
}

// installEventID names the install of build of app on a device: the same build change seen at
// two check-ins (a retry, two instances) is one install event. A device that goes back to a
// build it had before and updates again counts that build's install once.
func installEventID(deviceID, app, build string) string {
	h := sha256.Sum256([]byte(deviceID + "\x00" + app + "\x00" + build))
	return "install." + hex.EncodeToString(h[:16])
}

// upsert writes the device record and returns it with the record before (zero on first sight).
func (s *Devices) upsert(ctx context.Context, userID, deviceID string, in DeviceInput, now time.Time) (*Device, Device, error) {
	key := deviceKey(userID, deviceID)
	unlock := s.DB.Lock(deviceLock(key))
	defer unlock()
	var before Device
	err := s.devices().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&before)
	if err != nil && !mongodb.IsNotFound(err) {
		return nil, Device{}, fmt.Errorf("read device %s: %w", key, mongodb.Translate(err, "device"))
	}
	d := &Device{
		Key: key, UserID: userID, DeviceID: deviceID, Platform: in.Platform, Model: in.Model,
		OSVersion: in.OSVersion, AppID: in.AppID, AppVersion: in.AppVersion, BuildNumber: in.BuildNumber,
		Channel: in.Channel, Locale: in.Locale, Timezone: in.Timezone, PushToken: in.PushToken,
		PushEnabled: in.PushEnabled, HasPushToken: in.PushToken != "", CreatedAt: now, LastSeenAt: now,
	}
	if err == nil {
		d.CreatedAt = before.CreatedAt
	}
	set := bson.D{
		{Key: "user_id", Value: d.UserID}, {Key: "device_id", Value: d.DeviceID}, {Key: "platform", Value: d.Platform},
		{Key: "model", Value: d.Model}, {Key: "os_version", Value: d.OSVersion}, {Key: "app_id", Value: d.AppID},
		{Key: "app_version", Value: d.AppVersion}, {Key: "build_number", Value: d.BuildNumber},
		{Key: "channel", Value: d.Channel}, {Key: "locale", Value: d.Locale}, {Key: "timezone", Value: d.Timezone},
		{Key: "push_token", Value: d.PushToken}, {Key: "push_enabled", Value: d.PushEnabled},
		{Key: "last_seen_at", Value: d.LastSeenAt},
	}
	_, err = s.devices().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{
		{Key: "$set", Value: set},
		{Key: "$setOnInsert", Value: bson.D{{Key: "created_at", Value: now}}},
	}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return nil, Device{}, fmt.Errorf("check in device %s: %w", key, mongodb.Translate(err, "device"))
	}
	s.View.putDevice(d)
	return d, before, nil
}

// moveToken makes key the owner of token and clears the token from the device that held it.
// The two steps take their locks one after the other, never nested, so they cannot deadlock.
func (s *Devices) moveToken(ctx context.Context, token, userID, key string, now time.Time) error {
	unlock := s.DB.Lock("directory/push_token:" + token)
	var prev pushToken
	err := s.tokens().FindOne(ctx, bson.D{{Key: "_id", Value: token}}).Decode(&prev)
	if err == nil || mongodb.IsNotFound(err) {
		_, err = s.tokens().ReplaceOne(ctx, bson.D{{Key: "_id", Value: token}}, pushToken{
			Token: token, UserID: userID, DeviceKey: key, UpdatedAt: now,
		}, options.Replace().SetUpsert(true))
	}
	unlock()
	if err != nil {
		return fmt.Errorf("register push token: %w", mongodb.Translate(err, "push token"))
	}
	if prev.DeviceKey == "" || prev.DeviceKey == key {
		return nil
	}
	return s.clearToken(ctx, prev.DeviceKey, token)
}

// clearToken removes token from the device record key if it is still there.
func (s *Devices) clearToken(ctx context.Context, key, token string) error {
	unlock := s.DB.Lock(deviceLock(key))
	defer unlock()
	_, err := s.devices().UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "push_token", Value: token}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "push_token", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("clear moved push token from %s: %w", key, mongodb.Translate(err, "device"))
	}
	s.View.clearToken(key, token)
	return nil
}

// releaseToken forgets token's ownership if key still owns it.
func (s *Devices) releaseToken(ctx context.Context, token, key string) error {
	if token == "" {
		return nil
	}
	unlock := s.DB.Lock("directory/push_token:" + token)
	defer unlock()
	_, err := s.tokens().DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: token}, {Key: "device_key", Value: key}})
	if err != nil {
		return fmt.Errorf("release push token: %w", mongodb.Translate(err, "push token"))
	}
	return nil
}

// TokenOwner returns the user and device key ("<user id>/<device id>") that token belongs to; a
// push sender checks it at send time. It returns not_found for a token nobody holds.
func (s *Devices) TokenOwner(ctx context.Context, token string) (userID, deviceKey string, err error) {
	var t pushToken
	if err := s.tokens().FindOne(ctx, bson.D{{Key: "_id", Value: token}}).Decode(&t); err != nil {
		return "", "", fmt.Errorf("push token owner: %w", mongodb.Translate(err, "push token"))
	}
	return t.UserID, t.DeviceKey, nil
}

// SignedOut drops the push token of userID's device deviceID: the user has no live session on
// it any more (auth.Sessions calls it), so the device must stop receiving their notifications.
// The device record stays; the app registers its token again at its next sign-in. A device the
// user never checked in, or one without a token, is left as it is.
func (s *Devices) SignedOut(ctx context.Context, userID, deviceID string) error {
	key := deviceKey(userID, deviceID)
	var d Device
	err := s.devices().FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
	switch {
	case mongodb.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("read device %s: %w", key, mongodb.Translate(err, "device"))
	case d.PushToken == "":
		return nil
	}
	if err := s.clearToken(ctx, key, d.PushToken); err != nil {
		return err
	}
	return s.releaseToken(ctx, d.PushToken, key)
}
