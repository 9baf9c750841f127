package directory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mportal/mportal/push"
)

// viewCursorPrefix marks the view's cursors, "key:<last device key>": a resumed stream continues
// after that key in key order, however devices came and went meanwhile. A cursor of the database
// stream ("<count>:<key>") does not carry it and starts the view over, and the other way round;
// the push engine's per-device claims make starting over safe.
const viewCursorPrefix = "key:"

// stream is Recipients.Stream served from the view, with the same rules as the database stream
// (see Recipients.Stream) but in device key order. The view's lock is held only while a batch is
// gathered, never while fn runs.
func (v *RecipientView) stream(ctx context.Context, aud push.Audience, now time.Time, cursor string,
	fn func([]push.Recipient, string) error) error {
	if err := v.ensure(ctx); err != nil {
		return err
	}
	after, resumed := strings.CutPrefix(cursor, viewCursorPrefix)
	s := &recipientStream{aud: aud, fn: fn, now: now, batch: make([]push.Recipient, 0, push.MaxBatch)}
	keys := v.audience(s)
	start := 0
	if resumed {
		start, _ = slices.BinarySearch(keys, after)
		for start < len(keys) && keys[start] <= after {
			start++
		}
	}
	// Devices before the cursor were yielded by an earlier run; reading them only marks their
	// users as reached, so the tail does not repeat them.
	v.classifyRange(s, keys[:start], false)
	s.cursor = cursor
	for i := start; i < len(keys); {
		if err := ctx.Err(); err != nil {
			return err
		}
		i += v.classifyRange(s, keys[i:], true)
		s.cursor = viewCursorPrefix + keys[i-1]
		if len(s.batch) == push.MaxBatch {
			if err := s.flush(s.cursor); err != nil {
				return err
			}
		}
	}
	if err := s.flush(s.cursor); err != nil {
		return err
	}
	return s.tail()
}

// classifyRange classifies the devices keys, under the read lock, until the batch is full when
// yield is set; it returns how many keys it used.
func (v *RecipientView) classifyRange(s *recipientStream, keys []string, yield bool) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for i, key := range keys {
		d := v.devices[key]
		if d == nil {
			continue // deleted since the audience was read
		}
		rec, ok := s.classify(d)
		if ok && yield {
			s.batch = append(s.batch, rec)
			if len(s.batch) == push.MaxBatch {
				return i + 1
			}
		}
	}
	return len(keys)
}

// audience fills in s.users (the audience's active users) and s.disabled, and returns the keys of
// the devices to read, sorted: the named users' devices for an audience of named users, all
// devices otherwise.
func (v *RecipientView) audience(s *recipientStream) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	aud := s.aud
	s.users = make(map[string]bool)
	if onlyUserIDs(aud) {
		var keys []string
		for _, id := range aud.UserIDs {
			if u := v.users[id]; u != nil && u.Status == StatusActive {
				if _, dup := s.users[id]; !dup {
					s.users[id] = false
					keys = append(keys, v.byUser[id]...)
				}
			}
		}
		slices.Sort(keys)
		return keys
	}
	if len(aud.Channels) > 0 {
		s.disabled = make(map[string]bool)
	}
	for id, u := range v.users {
		if u.Status != StatusActive {
			if u.Status == StatusDisabled && s.disabled != nil {
				s.disabled[id] = true
			}
			continue
		}
		if aud.All || slices.Contains(aud.Departments, u.Department) || slices.Contains(aud.UserIDs, id) ||
			slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(aud.Roles, r) }) {
			s.users[id] = false
		}
	}
	if v.order == nil {
		v.order = make([]string, 0, len(v.devices))
		for key := range v.devices {
			v.order = append(v.order, key)
		}
		slices.Sort(v.order)
	}
	return v.order
}
