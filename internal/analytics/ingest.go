package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/mongodb"
)

// Ingest stores a batch of the caller's events: the user is always the caller and the device
// the caller's session's. Each event id counts once per user (a batch replayed after a lost
// answer is reported as duplicates); a bad event is rejected alone, with its index and reason.
// Event times are corrected by the difference between the device's clock (ClientTime) and the
// server's. It returns invalid (naming the field) for a bad batch, rate_limited with a
// Retry-After when the device sends too much, and unavailable when the database is down.
func (s *Service) Ingest(ctx context.Context, p *auth.Principal, b Batch) (*IngestResult, error) {
	s.init()
	if p == nil || p.UserID == "" {
		return nil, apperr.New(apperr.Unauthorized, "sign in to send events")
	}
	if field, reason := checkBatch(&b); field != "" {
		return nil, apperr.Field(field, "%s", reason)
	}
	now := s.Now.Stored()
	if err := clienttime.Check("client_time", b.ClientTime, now); err != nil {
		return nil, err
	}
	device := p.DeviceID
	if device == "" {
		device = "session:" + p.SessionID
	}
	if ok, wait := s.limiter.take(p.UserID+"/"+device, len(b.Events), now); !ok {
		return nil, &apperr.Error{Code: apperr.RateLimited, Message: "this device sends too many events; retry later", RetryAfter: wait}
	}
	skew := now.Sub(time.UnixMilli(b.ClientTime))
	if skew.Abs() < skewTolerance {
		skew = 0
	}
	res := &IngestResult{Rejected: []Reject{}}
	user := s.pseudonym("u", p.UserID)
	dev := s.pseudonym("d", p.UserID+"/"+device)
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	app := s.catalogApp(ctx, b.App)
	evs := make([]stored, 0, len(b.Events))
	seen := make(map[string]bool, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		at := time.UnixMilli(e.At).Add(skew).UTC()
		if field, reason := checkEvent(e, at, now); field != "" {
			res.Rejected = append(res.Rejected, Reject{Index: i, ID: e.ID, Field: "events[" + fmt.Sprint(i) + "]." + field, Reason: reason})
			continue
		}
		if seen[e.ID] { // the same id twice in one batch: the second is a duplicate
			res.Duplicates++
			continue
		}
		seen[e.ID] = true
		evs = append(evs, stored{ID: user + ":" + e.ID, P: user, D: dev, Name: e.Name, Screen: e.Screen, At: at,
			App: app, Build: b.Build, Platform: b.Platform, Dept: p.Department, Roles: roles, Props: e.Properties, Received: now})
	}
	accepted, err := s.store(ctx, evs)
	if err != nil {
		return nil, err
	}
	res.Accepted = accepted
	res.Duplicates += len(evs) - accepted
	return res, nil
}

// takeBack deletes the events of evs an insert that failed stored, except those at the indexes
// in skip (another batch's), and only those matching also (the attempt's received time).
func (s *Service) takeBack(ctx context.Context, evs []stored, skip map[int]bool, also ...bson.E) {
	var ids []string
	for i, e := range evs {
		if !skip[i] {
			ids = append(ids, e.ID)
		}
	}
	filter := append(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, also...)
	_, _ = s.events().DeleteMany(context.WithoutCancel(ctx), filter)
}

// store inserts raw events, skipping those stored before, and records the new ones in a rollup
// fragment. It returns how many were new.
func (s *Service) store(ctx context.Context, evs []stored) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	isNew := make([]bool, len(evs))
	for i := range isNew {
		isNew[i] = true
	}
	_, err := s.events().InsertMany(ctx, evs, options.InsertMany().SetOrdered(false))
	if s.eventsInserted != nil {
		err = s.eventsInserted(err)
	}
	if err != nil {
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
			// The insert may have been applied (a connection lost after the write, a write
			// concern that timed out): take back what this attempt stored, known by its
			// received time (events stored before keep theirs), so that the client's retry
			// stores and counts them. Left in place, they were duplicates no rollup counted.
			s.takeBack(ctx, evs, nil, bson.E{Key: "received", Value: evs[0].Received})
			return 0, fmt.Errorf("store analytics events: %w", mongodb.Translate(err, "analytics event"))
		}
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 || we.Index < 0 || we.Index >= len(evs) {
				// Take back what this insert did store (not the duplicates: those are another
				// batch's, counted), so that the retry stores and counts the events.
				dup := map[int]bool{}
				for _, we := range bwe.WriteErrors {
					if we.Code == 11000 {
						dup[we.Index] = true
					}
				}
				s.takeBack(ctx, evs, dup)
				return 0, fmt.Errorf("store analytics events: %w", mongodb.Translate(err, "analytics event"))
			}
			isNew[we.Index] = false
		}
	}
	fresh := make([]stored, 0, len(evs))
	for i, e := range evs {
		if isNew[i] {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	frag, err := s.fragmentOf(ctx, fresh)
	if err == nil {
		err = s.insertFragment(ctx, frag)
	}
	if err != nil {
		// Take the new events back, so that the client's retry stores and counts them; left in
		// place they would be duplicates that no rollup counts.
		ids := make([]string, len(fresh))
		for i, e := range fresh {
			ids[i] = e.ID
		}
		_, _ = s.events().DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		return 0, fmt.Errorf("store analytics rollup: %w", err)
	}
	if err := s.rollups.add(frag); err != nil {
		return 0, err
	}
	return len(fresh), nil
}

// insertFragment inserts the fragment of a batch's new events. Its _id is derived from those
// events (fragmentID), so a duplicate means they were counted already: by an insert that the
// database applied but whose answer was lost, after which store took the events back and the
// caller sent them again. The stored fragment is then the one to count, not a second one.
func (s *Service) insertFragment(ctx context.Context, frag *fragment) error {
	_, err := s.fragments().InsertOne(ctx, frag)
	if s.fragmentInserted != nil {
		err = s.fragmentInserted(err)
	}
	if mongodb.IsDuplicateKey(err) {
		err = s.fragments().FindOne(ctx, bson.D{{Key: "_id", Value: frag.ID}}).Decode(frag)
	}
	return mongodb.Translate(err, "analytics rollup")
}

// roleDims lists the role dimensions of an event.
func roleDims(roles []string) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, "role:"+r)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
