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
// Each takes the device's lock, like a check-in, and writes only a device still on the channel
// it is moving from, so a device that checked in meanwhile keeps what its check-in decided. A
// check-in that decided before a change but writes after the move looked for devices is caught
// by the check-in itself (recheckChannel).

// On the embedded FerretDB a query that is not {_id: x} alone reads and decodes the whole
// collection (about 0.9 s at 10,000 devices, measured), and an $in of more than about 1,000
// values costs more on top; {_id: x} alone is an index search (about 1 ms to read, 2 ms to
// update; an update filtered on _id and channel scans, 27 ms). So a few documents are read and
// moved one by one by _id, many in batches of batchSize, each one scan.
const fewDocuments = 64

var batchSize = 1000 // a variable for tests, which take the batched paths with fewer devices

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
// reads the channel's devices in one query and their users in one (or by _id when few), and
// moves devices in batches of 1000 to an update, whatever the size of the department. It
// returns how many devices moved, and unavailable when the database fails (devices moved before
// stay moved).
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
// them (no read at all when there are none, reads by _id when few), otherwise one query per
// 1000 users. It returns how many devices moved, and unavailable when the database or the
// release view fails.
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
	if keys, ok := s.View.offChannelDevices(userIDs, DefaultChannel); ok {
		// The embedded database scans the devices for a query by user; the view knows which
		// few devices to read.
		devices, err := s.byKey(ctx, keys)
		return slices.DeleteFunc(devices, func(d channelDevice) bool { return d.Channel == DefaultChannel || d.Channel == "" }), err
	}
	var out []channelDevice
	for batch := range slices.Chunk(userIDs, batchSize) {
		ds, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{
			{Key: "user_id", Value: bson.D{{Key: "$in", Value: batch}}},
			{Key: "channel", Value: bson.D{{Key: "$nin", Value: bson.A{DefaultChannel, ""}}}},
		}, "devices", options.Find().SetProjection(channelDeviceProjection))
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// byKey reads the devices keys (those that exist).
func (s *Devices) byKey(ctx context.Context, keys []string) ([]channelDevice, error) {
	var out []channelDevice
	if s.DB.FerretDB && len(keys) <= fewDocuments {
		for _, key := range keys {
			var d channelDevice
			err := s.devices().FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(channelDeviceProjection)).Decode(&d)
			switch {
			case mongodb.IsNotFound(err):
			case err != nil:
				return nil, fmt.Errorf("read device %s: %w", key, mongodb.Translate(err, "device"))
			default:
				out = append(out, d)
			}
		}
		return out, nil
	}
	for batch := range slices.Chunk(keys, batchSize) {
		ds, err := mongodb.FindAll[channelDevice](ctx, s.devices(), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}},
			"devices", options.Find().SetProjection(channelDeviceProjection))
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// principals returns userIDs' roles and departments as stored now, as principals; a user not
// in the directory is a principal with an id only (no role or department includes them). A few
// users are read by _id; on the embedded database more than a batch are read in one scan of
// the users, which costs the same as one $in of a batch.
func (s *Devices) principals(ctx context.Context, userIDs []string) (map[string]*auth.Principal, error) {
	out := make(map[string]*auth.Principal, len(userIDs))
	for _, id := range userIDs {
		out[id] = &auth.Principal{UserID: id}
	}
	add := func(filter bson.D) error {
		users, err := mongodb.FindAll[audienceUser](ctx, s.DB.Collection(usersCollection), filter, "users",
			options.Find().SetProjection(audienceProjection))
		for _, u := range users {
			if p := out[u.ID]; p != nil {
				p.Roles, p.Department = u.Roles, u.Department
			}
		}
		return err
	}
	switch {
	case s.DB.FerretDB && len(userIDs) <= fewDocuments:
		for _, id := range userIDs {
			if err := add(bson.D{{Key: "_id", Value: id}}); err != nil {
				return nil, err
			}
		}
	case s.DB.FerretDB && len(userIDs) > batchSize:
		if err := add(bson.D{}); err != nil {
			return nil, err
		}
	default:
		for batch := range slices.Chunk(userIDs, batchSize) {
			if err := add(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: batch}}}}); err != nil {
				return nil, err
			}
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

// moveToStable sets the channel of the devices keys that are still on channel to stable and
// returns how many moved. Each device's lock is held around its write, which FerretDB does not
// make atomic against a concurrent check-in's write: on FerretDB a few devices are each read and
// written by _id under their lock; more, and all on MongoDB (where the filter on the channel
// makes each document's update atomic), go in batches of one update each, holding the batch's
// locks, taken in key order so that two moves never wait for each other.
func (s *Devices) moveToStable(ctx context.Context, channel string, keys []string) (moved int, err error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if s.DB.FerretDB && len(keys) <= fewDocuments {
		for _, key := range keys {
			ok, err := s.moveOne(ctx, channel, key)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		return moved, nil
	}
	for batch := range slices.Chunk(keys, batchSize) {
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

// moveOne moves device key from channel to stable if it is still on channel, by _id under the
// device's lock (FerretDB only: the lock is what makes the read and the write one step).
func (s *Devices) moveOne(ctx context.Context, channel, key string) (bool, error) {
	unlock := s.DB.Lock(deviceLock(key))
	defer unlock()
	var d channelDevice
	err := s.devices().FindOne(ctx, bson.D{{Key: "_id", Value: key}}, options.FindOne().SetProjection(channelDeviceProjection)).Decode(&d)
	switch {
	case mongodb.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read device %s: %w", key, mongodb.Translate(err, "device"))
	case d.Channel != channel:
		return false, nil
	}
	if _, err := s.devices().UpdateOne(ctx, bson.D{{Key: "_id", Value: key}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "channel", Value: DefaultChannel}}}}); err != nil {
		return false, fmt.Errorf("move device %s to stable: %w", key, mongodb.Translate(err, "device"))
	}
	s.View.moveChannel(key, channel, DefaultChannel)
	return true, nil
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
