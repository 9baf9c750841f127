package directory

import (
	"context"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// recipientStream is one Stream call. users maps the audience's user ids to whether they were
// emitted yet; it also collects the users of matching channel devices. Only ids are kept: the
// devices pass through in batches of at most push.MaxBatch.
type recipientStream struct {
	r        *Recipients
	aud      push.Audience
	fn       func([]push.Recipient, string) error
	now      time.Time
	users    map[string]bool
	disabled map[string]bool
	// viaChannel are the users in the audience only through a device on one of its channels:
	// only such devices of theirs are pushed (see classify).
	viaChannel map[string]bool
	batch      []push.Recipient
	cursor     string
}

// devices reads the devices once, skipping the first pos (already handled by an earlier run)
// while still noting whose users they reached.
func (s *recipientStream) devices(ctx context.Context, pos int, last string) error {
	if len(s.users) == 0 && len(s.aud.Channels) == 0 {
		return nil
	}
	// The devices are read whole before any batch is handed on: fn sends and writes, and a
	// cursor held open across that work (getMores on a database that reads whole collections,
	// a lease that may end mid-read) stalled fan-outs to a few thousand devices on a shared
	// FerretDB. The projection keeps a device to a few hundred bytes.
	var all []recipientDevice
	var err error
	switch {
	case onlyUserIDs(s.aud) && s.r.DB.FerretDB:
		all, err = readerFor(s.r.DB).read(ctx, s.users) // shared with concurrent fan-outs, see deviceReader
	case onlyUserIDs(s.aud):
		all, err = findDevicesOf(ctx, s.r.DB, slices.Collect(maps.Keys(s.users)))
	default:
		all, err = mongodb.FindAll[recipientDevice](ctx, s.r.DB.Collection(devicesCollection), bson.D{}, "audience devices",
			options.Find().SetProjection(recipientProjection).SetBatchSize(5000))
	}
	if err != nil {
		return err
	}
	s.batch = make([]push.Recipient, 0, push.MaxBatch)
	read, key := 0, ""
	for i := range all {
		d := &all[i]
		read, key = read+1, d.Key
		rec, ok := s.classify(d)
		if read <= pos {
			if read == pos && d.Key != last {
				return errCursorMoved
			}
			continue
		}
		if !ok {
			continue
		}
		s.batch = append(s.batch, rec)
		if len(s.batch) == push.MaxBatch {
			if err := s.flush(formatCursor(read, key)); err != nil {
				return err
			}
		}
	}
	if read < pos {
		return errCursorMoved
	}
	if read > pos {
		s.cursor = formatCursor(read, key)
	} else {
		s.cursor = formatCursor(pos, last)
	}
	return s.flush(s.cursor)
}

// classify decides what a device contributes: a pushable device of an audience user is
// yielded. Any other device only makes sure its user (perhaps reached through a channel) is in
// the audience; the users no pushable device reached are yielded at the end, by tail.
func (s *recipientStream) classify(d *recipientDevice) (push.Recipient, bool) {
	// A user in the audience only through a channel gets the push on their devices on that
	// channel, whatever order the devices come in. Before, the devices read after the first
	// on-channel one were pushed too, and those read before were not.
	if _, member := s.users[d.UserID]; !member || s.viaChannel[d.UserID] {
		if !slices.Contains(s.aud.Channels, d.Channel) || s.disabled[d.UserID] {
			return push.Recipient{}, false
		}
		if !member {
			s.users[d.UserID] = false
			if s.viaChannel == nil {
				s.viaChannel = map[string]bool{}
			}
			s.viaChannel[d.UserID] = true
		}
	}
	if !d.PushEnabled || d.PushToken == "" || s.now.Sub(d.LastSeenAt) > push.StaleAfter {
		return push.Recipient{}, false
	}
	s.users[d.UserID] = true
	return push.Recipient{UserID: d.UserID, DeviceKey: d.Key, Token: d.PushToken, Platform: d.Platform,
		Locale: d.Locale, Timezone: d.Timezone, PushEnabled: true, LastSeenAt: d.LastSeenAt}, true
}

// tail emits the audience users no device reached, so that they get their inbox item.
func (s *recipientStream) tail() error {
	for id, emitted := range s.users {
		if emitted {
			continue
		}
		s.batch = append(s.batch, push.Recipient{UserID: id})
		if len(s.batch) == push.MaxBatch {
			if err := s.flush(s.cursor); err != nil {
				return err
			}
		}
	}
	return s.flush(s.cursor)
}

func (s *recipientStream) flush(cursor string) error {
	if len(s.batch) == 0 {
		return nil
	}
	err := s.fn(s.batch, cursor)
	s.batch = s.batch[:0]
	return err
}
