package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// Recipients is the push engine's view of the directory: it streams an audience's devices and
// removes the tokens the push provider rejects.
//
// With View set, audiences stream from that in-memory copy of the directory and token owners are
// looked up there; cmd sets it on the embedded database, where reading 50,000 devices costs
// seconds. Without it (MongoDB, several replicas) Stream reads the collections with a cursor.
type Recipients struct {
	DB  *mongodb.DB
	Now clock.Func
	// View is the in-memory directory to stream from; nil reads the database.
	View *RecipientView
}

var (
	_ push.RecipientSource = (*Recipients)(nil)
	_ push.TokenOwners     = (*Recipients)(nil)
)

// recipientDevice is the part of a device the stream reads.
type recipientDevice struct {
	Key         string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Platform    string    `bson:"platform"`
	Channel     string    `bson:"channel"`
	Locale      string    `bson:"locale"`
	Timezone    string    `bson:"timezone"`
	PushToken   string    `bson:"push_token"`
	PushEnabled bool      `bson:"push_enabled"`
	LastSeenAt  time.Time `bson:"last_seen_at"`
}

var recipientProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "platform", Value: 1}, {Key: "channel", Value: 1},
	{Key: "locale", Value: 1}, {Key: "timezone", Value: 1}, {Key: "push_token", Value: 1},
	{Key: "push_enabled", Value: 1}, {Key: "last_seen_at", Value: 1},
}

// errCursorMoved means the devices before a resume cursor changed (one was deleted), so the
// position no longer names the same place; the stream then starts over, and the push engine's
// per-device claims keep the devices already sent from being sent again.
var errCursorMoved = errors.New("device order changed since the cursor was taken")

// Stream implements push.RecipientSource. It reads the audience's users once (ids only, kept in
// memory), then the devices once with a cursor, in the order the database stores them, and
// yields the devices that can take a push: push enabled, a token, seen within push.StaleAfter,
// and belonging to an active audience user or on an audience channel. Audience users without
// such a device follow as user-only entries. The cursor is "<devices read>:<last device key>";
// resuming skips that many devices and checks that the last one is the same. It returns fn's
// error as is and unavailable when the database cannot be read.
func (r *Recipients) Stream(ctx context.Context, aud push.Audience, cursor string, fn func([]push.Recipient, string) error) error {
	if aud.Empty() {
		return nil
	}
	if r.View != nil {
		return r.View.stream(ctx, aud, r.Now.UTC(), cursor, fn)
	}
	s := &recipientStream{r: r, aud: aud, fn: fn, now: r.Now.UTC()}
	var err error
	if s.users, err = r.audienceUsers(ctx, aud); err != nil {
		return err
	}
	if len(aud.Channels) > 0 {
		if s.disabled, err = r.disabledUsers(ctx); err != nil {
			return err
		}
	}
	pos, last := parseCursor(cursor)
	for range 2 {
		err = s.devices(ctx, pos, last)
		if !errors.Is(err, errCursorMoved) {
			break
		}
		for id := range s.users {
			s.users[id] = false
		}
		pos, last = 0, ""
	}
	if err != nil {
		return err
	}
	return s.tail()
}

func parseCursor(c string) (pos int, last string) {
	n, key, ok := strings.Cut(c, ":")
	if !ok {
		return 0, ""
	}
	pos, err := strconv.Atoi(n)
	if err != nil || pos < 0 {
		return 0, ""
	}
	return pos, key
}

func formatCursor(pos int, last string) string { return strconv.Itoa(pos) + ":" + last }

// onlyUserIDs reports whether the audience names its users and nothing else, so the devices can
// be selected by user_id instead of read whole.
func onlyUserIDs(aud push.Audience) bool {
	return !aud.All && len(aud.Departments) == 0 && len(aud.Roles) == 0 && len(aud.Channels) == 0
}

// RemoveToken implements push.RecipientSource: it clears token from the device holding it,
// found through push_tokens by _id, and forgets the ownership.
func (r *Recipients) RemoveToken(ctx context.Context, token string) error {
	d := &Devices{DB: r.DB, Now: r.Now, View: r.View}
	_, key, err := d.TokenOwner(ctx, token)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := d.clearToken(ctx, key, token); err != nil {
		return err
	}
	return d.releaseToken(ctx, token, key)
}

// TokenOwner implements push.TokenOwners; see Devices.TokenOwner. With View set it answers from
// the view, which mirrors the devices' tokens as Devices writes them.
func (r *Recipients) TokenOwner(ctx context.Context, token string) (userID, deviceKey string, err error) {
	if r.View != nil {
		userID, deviceKey, ok, err := r.View.tokenOwner(ctx, token)
		if err == nil && !ok {
			err = apperr.New(apperr.NotFound, "push token not found")
		}
		return userID, deviceKey, err
	}
	return (&Devices{DB: r.DB, Now: r.Now}).TokenOwner(ctx, token)
}

// DeviceToken implements push.DeviceTokens: the push token the device holds now, "" when it
// has none, has push off or is gone.
func (r *Recipients) DeviceToken(ctx context.Context, deviceKey string) (string, error) {
	if r.View != nil {
		return r.View.deviceToken(ctx, deviceKey)
	}
	var d struct {
		PushToken   string `bson:"push_token"`
		PushEnabled bool   `bson:"push_enabled"`
	}
	err := r.DB.Collection(devicesCollection).FindOne(ctx, bson.D{{Key: "_id", Value: deviceKey}}).Decode(&d)
	switch {
	case mongodb.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("device token of %s: %w", deviceKey, mongodb.Translate(err, "device"))
	case !d.PushEnabled:
		return "", nil
	}
	return d.PushToken, nil
}

// audienceUsers returns the ids of the active users the audience selects by user criteria, each
// marked not yet emitted.
func (r *Recipients) audienceUsers(ctx context.Context, aud push.Audience) (map[string]bool, error) {
	users := make(map[string]bool)
	if onlyUserIDs(aud) && len(aud.UserIDs) <= maxUserLookups {
		// A few named users (an approver, a feedback author) are read by _id, the one query
		// the embedded database answers without reading the whole collection.
		for _, id := range slices.Compact(slices.Sorted(slices.Values(aud.UserIDs))) {
			var u struct {
				Status string `bson:"status"`
			}
			err := r.DB.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
				options.FindOne().SetProjection(bson.D{{Key: "status", Value: 1}})).Decode(&u)
			switch {
			case mongodb.IsNotFound(err):
			case err != nil:
				return nil, fmt.Errorf("audience user %s: %w", id, mongodb.Translate(err, "user"))
			case u.Status == StatusActive:
				users[id] = false
			}
		}
		return users, nil
	}
	filter := bson.D{{Key: "status", Value: StatusActive}}
	if !aud.All {
		var or bson.A
		if len(aud.Departments) > 0 {
			or = append(or, bson.D{{Key: "department", Value: bson.D{{Key: "$in", Value: aud.Departments}}}})
		}
		if len(aud.Roles) > 0 {
			or = append(or, bson.D{{Key: "roles", Value: bson.D{{Key: "$in", Value: aud.Roles}}}})
		}
		if len(aud.UserIDs) > 0 {
			or = append(or, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: aud.UserIDs}}}})
		}
		if len(or) == 0 {
			return users, nil // channels only
		}
		filter = append(filter, bson.E{Key: "$or", Value: or})
	}
	err := r.eachID(ctx, filter, func(id string) { users[id] = false })
	return users, err
}

// maxUserLookups is the number of named users up to which they are read one by one.
const maxUserLookups = 50

// disabledUsers returns the ids of disabled users, whose devices a channel audience skips.
func (r *Recipients) disabledUsers(ctx context.Context) (map[string]bool, error) {
	disabled := make(map[string]bool)
	err := r.eachID(ctx, bson.D{{Key: "status", Value: StatusDisabled}}, func(id string) { disabled[id] = true })
	return disabled, err
}

// eachID calls fn with the _id of every user matching filter.
func (r *Recipients) eachID(ctx context.Context, filter bson.D, fn func(string)) error {
	cur, err := r.DB.Collection(usersCollection).Find(ctx, filter,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(2000))
	if err != nil {
		return fmt.Errorf("audience users: %w", mongodb.Translate(err, "user"))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		id, ok := cur.Current.Lookup("_id").StringValueOK()
		if ok {
			fn(id)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("audience users: %w", mongodb.Translate(err, "user"))
	}
	return nil
}
