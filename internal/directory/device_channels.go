package directory

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// A device counts in the release channel its app reports only while its user is in that channel
// (Channels, at check-in). The methods here keep the stored channel right between check-ins when
// a user's membership ends: they leave or are removed (LeftChannel), ops take a role or
// department off the channel (NarrowChannel), or an admin changes the user's roles or department
// (Reassess). Before, the devices kept the channel, and its announcements and pushes, until their
// next check-in. They only ever move devices to stable: a user who gains a channel gets it at the
// device's next check-in, when the app reports the channel of the build it runs.
//
// Each takes the device's lock, like a check-in, and writes with a filter on the channel it is
// moving from, so a device that checked in meanwhile keeps what its check-in decided. A check-in
// that decided before a change but writes after the move looked for devices is caught by the
// check-in itself (recheckChannel).

// moveBatch bounds the devices one update moves: their locks are held together.
const moveBatch = 500

// userBatch bounds the ids one $in query names.
const userBatch = 1000

// channelDevice is the part of a device the channel moves read.
type channelDevice struct {
	Key     string `bson:"_id"`
	UserID  string `bson:"user_id"`
	AppID   string `bson:"app_id"`
	Channel string `bson:"channel"`
}

var channelDeviceProjection = bson.D{{Key: "_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "app_id", Value: 1}, {Key: "channel", Value: 1}}

// LeftChannel moves userID's devices that count in channel of the app named by appIDs (its slug,
// Android package or iOS bundle id) back to the stable channel: the user left it or was removed
// from it, and channel audiences (announcements, pushes) must not reach them through a device
// until its next check-in. The release service calls it. It returns unavailable when the
// database fails.
func (s *Devices) LeftChannel(ctx context.Context, userID string, appIDs []string, channel string) error {
	devices, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{
		{Key: "user_id", Value: userID}, {Key: "channel", Value: channel},
		{Key: "app_id", Value: bson.D{{Key: "$in", Value: appIDs}}},
	}, "devices", options.Find().SetProjection(channelDeviceProjection))
	if err != nil {
		return err
	}
	_, err = s.moveToStable(ctx, channel, keysOf(devices))
	return err
}

// NarrowChannel moves the devices that count in channel of the app named by appIDs back to
// stable when includes, given their user (id, roles and department as stored now), says the
// channel no longer includes that user: ops changed the channel's roles or departments. It
// reads the channel's devices and their users in one query each (users in batches of 1000)
// and moves devices 500 to an update, whatever the size of the department. It returns how many
// devices moved, and unavailable when the database fails (devices moved before stay moved).
func (s *Devices) NarrowChannel(ctx context.Context, appIDs []string, channel string, includes func(*auth.Principal) bool) (moved int, err error) {
	if channel == DefaultChannel {
		return 0, nil
	}
	devices, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{
		{Key: "channel", Value: channel}, {Key: "app_id", Value: bson.D{{Key: "$in", Value: appIDs}}},
	}, "devices", options.Find().SetProjection(channelDeviceProjection))
	if err != nil || len(devices) == 0 {
		return 0, err
	}
	who, err := s.principals(ctx, usersOf(devices))
	if err != nil {
		return 0, err
	}
	var out []string
	for _, d := range devices {
		if !includes(who[d.UserID]) {
			out = append(out, d.Key)
		}
	}
	return s.moveToStable(ctx, channel, out)
}

// Reassess moves the devices of userIDs that count in a release channel which no longer
// includes their user, as Channels decides with the user's roles and department as stored now,
// back to stable: an admin changed them. Users calls it after the change. Only the users'
// devices on a channel other than stable are read: on the embedded database the view names
// them (no read at all when there are none), otherwise one query per 1000 users. It returns how
// many devices moved, and unavailable when the database or the release view fails.
func (s *Devices) Reassess(ctx context.Context, userIDs ...string) (moved int, err error) {
	if s.Channels == nil || len(userIDs) == 0 {
		return 0, nil
	}
	devices, err := s.offStable(ctx, userIDs)
	if err != nil || len(devices) == 0 {
		return 0, err
	}
	who, err := s.principals(ctx, usersOf(devices))
	if err != nil {
		return 0, err
	}
	out := map[string][]string{} // channel -> devices to move from it
	for _, d := range devices {
		ch, err := s.Channels.DeviceChannel(ctx, who[d.UserID], d.AppID, d.Channel)
		if err != nil {
			return 0, err
		}
		if ch != d.Channel {
			out[d.Channel] = append(out[d.Channel], d.Key)
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(out)) {
		n, err := s.moveToStable(ctx, ch, out[ch])
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// offStable returns the devices of userIDs whose channel is not stable.
func (s *Devices) offStable(ctx context.Context, userIDs []string) ([]channelDevice, error) {
	notStable := bson.D{{Key: "$nin", Value: bson.A{DefaultChannel, ""}}}
	var out []channelDevice
	if keys, ok := s.View.offChannelDevices(userIDs, DefaultChannel); ok {
		// The embedded database scans the devices for a query by user; the view knows which
		// few devices to read, by _id.
		for batch := range slices.Chunk(keys, userBatch) {
			ds, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{
				{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}, {Key: "channel", Value: notStable},
			}, "devices", options.Find().SetProjection(channelDeviceProjection))
			if err != nil {
				return nil, err
			}
			out = append(out, ds...)
		}
		return out, nil
	}
	for batch := range slices.Chunk(userIDs, userBatch) {
		ds, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{
			{Key: "user_id", Value: bson.D{{Key: "$in", Value: batch}}}, {Key: "channel", Value: notStable},
		}, "devices", options.Find().SetProjection(channelDeviceProjection))
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// principals returns userIDs' roles and departments as stored now, as principals; a user not
// in the directory is a principal with an id only (no role or department includes them).
func (s *Devices) principals(ctx context.Context, userIDs []string) (map[string]*auth.Principal, error) {
	out := make(map[string]*auth.Principal, len(userIDs))
	for _, id := range userIDs {
		out[id] = &auth.Principal{UserID: id}
	}
	for batch := range slices.Chunk(userIDs, userBatch) {
		users, err := mongodb.FindAll[audienceUser](ctx, s.DB.Collection(usersCollection),
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}}, "users",
			options.Find().SetProjection(audienceProjection))
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out[u.ID].Roles, out[u.ID].Department = u.Roles, u.Department
		}
	}
	return out, nil
}

// audienceUser is the part of a user that channel membership reads.
type audienceUser struct {
	ID         string      `bson:"_id"`
	Roles      []auth.Role `bson:"roles"`
	Department string      `bson:"department"`
}

var audienceProjection = bson.D{{Key: "roles", Value: 1}, {Key: "department", Value: 1}}

// current returns p with the roles and department the directory stores now. A session's
// principal carries them as read up to MPORTAL_SESSION_RECHECK ago; the channel a device is
// stored with outlives that window (until the next check-in), so a check-in right after an admin
// took the user out of a channel's department must not put the device back on it. A user not in
// the directory (tests) keeps p's.
func (s *Devices) current(ctx context.Context, p *auth.Principal) (*auth.Principal, error) {
	var u audienceUser
	err := s.DB.Collection(usersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: p.UserID}},
		options.FindOne().SetProjection(audienceProjection)).Decode(&u)
	switch {
	case mongodb.IsNotFound(err):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read user %s: %w", p.UserID, mongodb.Translate(err, "user"))
	}
	who := *p
	who.Roles, who.Department = u.Roles, u.Department
	return &who, nil
}

// recheckChannel runs after a check-in stored d on a channel other than stable. A change that
// ends the user's membership and lands between the check-in's decision and its write may have
// looked for the channel's devices before this one was written there, and missed it; so the
// channel is decided again now, after the write, with the release view and the user as they
// are now, and the device moves to stable if that says so. On the instance that made the change
// the view has it before the move looks for devices, so the two cannot both miss each other.
func (s *Devices) recheckChannel(ctx context.Context, p *auth.Principal, d *Device) error {
	if s.Channels == nil || d.Channel == DefaultChannel {
		return nil
	}
	who, err := s.current(ctx, p)
	if err != nil {
		return err
	}
	ch, err := s.Channels.DeviceChannel(ctx, who, d.AppID, d.Channel)
	if err != nil || ch == d.Channel {
		return err
	}
	if _, err := s.moveToStable(ctx, d.Channel, []string{d.Key}); err != nil {
		return err
	}
	d.Channel = DefaultChannel
	return nil
}

// moveToStable sets the channel of the devices keys that are still on channel to stable, 500 at
// a time: each batch holds its devices' locks (taken in key order, so two moves never wait for
// each other) around one update, which FerretDB does not make atomic against a concurrent
// check-in's write. It returns how many devices moved.
func (s *Devices) moveToStable(ctx context.Context, channel string, keys []string) (moved int, err error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	for batch := range slices.Chunk(keys, moveBatch) {
		unlocks := make([]func(), 0, len(batch))
		for _, key := range batch {
			unlocks = append(unlocks, s.DB.Lock(deviceLock(key)))
		}
		res, err := s.devices().UpdateMany(ctx,
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}, {Key: "channel", Value: channel}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "channel", Value: DefaultChannel}}}})
		if err == nil {
			for _, key := range batch {
				s.View.moveChannel(key, channel, DefaultChannel)
			}
			moved += int(res.ModifiedCount)
		}
		for _, unlock := range unlocks {
			unlock()
		}
		if err != nil {
			return moved, fmt.Errorf("move %d devices from %s to stable: %w", len(batch), channel, mongodb.Translate(err, "device"))
		}
	}
	return moved, nil
}

func keysOf(devices []channelDevice) []string {
	keys := make([]string, len(devices))
	for i, d := range devices {
		keys[i] = d.Key
	}
	return keys
}

// usersOf returns the distinct users of devices.
func usersOf(devices []channelDevice) []string {
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.UserID
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}
