package announce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Create stores a new announcement and, when it has no publish_at or one that has come, publishes
// it at once with one push to its audience. It returns forbidden unless the actor has role ops,
// invalid (with the field) for bad input, and unavailable when the database cannot be reached.
func (s *Service) Create(ctx context.Context, actor *auth.Principal, in Input) (_ *Announcement, err error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "create announcement")
	now := s.Now.Stored()
	a, err := s.prepare(ctx, actor, in, now)
	if err != nil {
		return nil, err
	}
	return s.store(ctx, a, now, false)
}

// prepare validates a new announcement's input and builds it, with a new id.
func (s *Service) prepare(ctx context.Context, actor *auth.Principal, in Input, now time.Time) (*Announcement, error) {
	a := &Announcement{ID: bson.NewObjectID().Hex(), Importance: Normal, PublishAt: now, CreatedBy: actor.UserID,
		CreatedAt: now}
	if in.Title == nil || in.Body == nil || in.Audience == nil {
		return nil, apperr.Field(missing(in), "title, body and audience are required")
	}
	if err := s.apply(ctx, a, in, now); err != nil {
		return nil, err
	}
	return a, nil
}

// store inserts a and, when its time has come, publishes it. A replay (of an Idempotency-Key)
// may find a stored already: it then finishes what the first call may not have (publish and
// stamp are each safe to repeat) on the stored document.
func (s *Service) store(ctx context.Context, a *Announcement, now time.Time, replay bool) (*Announcement, error) {
	coll := s.DB.Collection(announcementsColl)
	if _, err := coll.InsertOne(ctx, a); err != nil {
		if !replay || !mongodb.IsDuplicateKey(err) {
			return nil, mongodb.Translate(err, "announcement")
		}
		var stored Announcement
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: a.ID}}).Decode(&stored); err != nil {
			return nil, mongodb.Translate(err, "announcement")
		}
		a = &stored
	}
	if !a.PublishAt.After(now) {
		if err := s.publish(ctx, a); err != nil {
			return nil, err
		}
		if err := s.stampPublished(ctx, a.ID); err != nil {
			return nil, err
		}
	}
	return s.reloaded(ctx, a.ID)
}

func missing(in Input) string {
	switch {
	case in.Title == nil:
		return "title"
	case in.Body == nil:
		return "body"
	}
	return "audience"
}

// Update edits an announcement. Editing a published one changes what readers see but pushes
// nothing again; its publish_at can then no longer change. It returns forbidden unless the actor
// has role ops, not_found for an unknown id, conflict for a withdrawn announcement or a new
// publish_at of a published one, invalid for bad input, and unavailable when the database cannot
// be reached.
func (s *Service) Update(ctx context.Context, actor *auth.Principal, id string, in Input) (_ *Announcement, err error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "update announcement %s", id)
	published, err := s.edit(ctx, id, in)
	if err != nil {
		return nil, err
	}
	// Stamped for sync after the edit, outside its lock: the sync write takes locks of its own,
	// and DB.Lock's striped mutexes must never nest.
	if published {
		if err := s.stamp(ctx, id); err != nil {
			return nil, err
		}
	}
	return s.reloaded(ctx, id)
}

// maxEditAttempts bounds the retries of an edit that keeps finding the announcement changed by
// other instances' edits.
const maxEditAttempts = 10

// errChanged is a lost compare-and-swap of an edit: another edit was written since the read.
var errChanged = errors.New("the announcement changed meanwhile")

// edit writes an edit under the announcement's lock and reports whether the announcement is
// published (before or by this edit), that is, whether its readers see the change.
func (s *Service) edit(ctx context.Context, id string, in Input) (published bool, err error) {
	published, due, err := s.editLocked(ctx, id, in)
	if err != nil || !due {
		return published, err
	}
	// Published once the lock is released: publish takes it to read what it pushes, and reads
	// the announcement again after its claim, so the id is all it needs.
	if err := s.publish(ctx, &Announcement{ID: id}); err != nil {
		return false, err
	}
	return true, nil
}

// editLocked writes an edit under the announcement's lock; due reports that the edit made a
// scheduled announcement due, to be published now.
func (s *Service) editLocked(ctx context.Context, id string, in Input) (published, due bool, err error) {
	// Ops edits and the publisher's read of what it pushes are the only writes to an
	// announcement document; the lock keeps two of them in this process from interleaving their
	// read and write, and the Rev compare-and-swap two of them on different instances (on
	// MongoDB; see the package's README).
	unlock := s.DB.Lock("announce:" + id)
	defer unlock()
	var readScheduled bool
	for range maxEditAttempts {
		published, due, err = s.editOnce(ctx, id, in, &readScheduled)
		if err != errChanged {
			return published, due, err
		}
	}
	return false, false, apperr.New(apperr.Conflict, "the announcement changed too often meanwhile; try again")
}

// editOnce reads the announcement, applies in and writes it over the Rev it read: errChanged
// when another edit, or the publisher, wrote meanwhile. readScheduled carries over the retries
// whether an earlier attempt read the announcement scheduled.
func (s *Service) editOnce(ctx context.Context, id string, in Input, readScheduled *bool) (published, due bool, err error) {
	if err := s.reload(ctx); err != nil {
		return false, false, err
	}
	cur, err := s.lookup(ctx, id, true)
	if err != nil {
		return false, false, err
	}
	if cur == nil {
		return false, false, apperr.New(apperr.NotFound, "announcement not found")
	}
	if cur.Status == StatusWithdrawn {
		return false, false, apperr.New(apperr.Conflict, "the announcement was withdrawn and can no longer be edited")
	}
	// An edit meant for the push found it gone out with the text before it (the publisher wrote
	// the Rev this edit read): accepted, the edit would be what readers see but not what was
	// pushed.
	if *readScheduled && cur.Status == StatusPublished {
		return false, false, apperr.New(apperr.Conflict,
			"the announcement was published, with its previous text, while this edit was saved; edit it again to change what its readers see")
	}
	*readScheduled = cur.Status == StatusScheduled
	if in.PublishAt.Set && cur.Status == StatusPublished {
		return false, false, &apperr.Error{Code: apperr.Conflict, Field: "publish_at",
			Message: "the announcement is published; publish_at can no longer change"}
	}
	now := s.Now.Stored()
	a := *cur
	a.UpdatedAt = now
	if err := s.apply(ctx, &a, in, now); err != nil {
		return false, false, err
	}
	set := bson.D{{Key: "title", Value: a.Title}, {Key: "body", Value: a.Body}, {Key: "body_html", Value: a.BodyHTML},
		{Key: "excerpt", Value: a.Excerpt}, {Key: "audience", Value: a.Audience}, {Key: "importance", Value: a.Importance},
		{Key: "publish_at", Value: a.PublishAt}, {Key: "pinned", Value: a.Pinned}, {Key: "updated_at", Value: now}}
	var unset bson.D
	for _, f := range []struct {
		name  string
		value any
		isNil bool
	}{{"expires_at", a.ExpiresAt, a.ExpiresAt == nil}, {"cover_image", a.CoverImage, a.CoverImage == nil}} {
		if f.isNil {
			unset = append(unset, bson.E{Key: f.name, Value: ""})
		} else {
			set = append(set, bson.E{Key: f.name, Value: f.value})
		}
	}
	if err := s.saveEdit(ctx, id, cur.Rev, set, unset); err != nil {
		return false, false, err
	}
	return cur.Status != StatusScheduled, cur.Status == StatusScheduled && !a.PublishAt.After(now), nil
}

// saveEdit writes an edit's set and unset over the announcement as it was at rev (a write in
// between made it stale: errChanged); with neither, it only changes the Rev. Before, a stale
// edit on another instance overwrote every field with its old copy, undoing the edit written in
// between.
func (s *Service) saveEdit(ctx context.Context, id, rev string, set, unset bson.D) error {
	var read any // an announcement stored before Rev has none: null matches it
	if rev != "" {
		read = rev
	}
	set = append(set, bson.E{Key: "rev", Value: bson.NewObjectID().Hex()})
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	r, err := s.DB.Collection(announcementsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: read}}, update)
	if err != nil {
		return mongodb.Translate(err, "announcement")
	}
	if r.MatchedCount == 0 {
		return errChanged
	}
	return nil
}

// Withdraw takes an announcement down: readers no longer see it, its items leave every inbox
// (the inbox asks Withdrawn; synced apps are sent them deleted) and, when it was still
// scheduled, it is never published — unless its publication had already won its claim (the
// same second): the push then goes out, and the answer carries published_at to say so.
// Withdrawing twice is harmless. It returns forbidden unless
// the actor has role ops, not_found for an unknown id, and unavailable when the database
// cannot be reached.
func (s *Service) Withdraw(ctx context.Context, actor *auth.Principal, id string) (_ *Announcement, err error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "withdraw announcement %s", id)
	a, err := s.lookup(ctx, id, true)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, apperr.New(apperr.NotFound, "announcement not found")
	}
	now := s.Now.Stored()
	if _, err := mongodb.Claim(ctx, s.DB.Collection(withdrawColl), id, bson.D{{Key: "withdrawn_at", Value: now}}); err != nil {
		return nil, err
	}
	if err := s.stampWithdrawn(ctx, id); err != nil {
		return nil, err
	}
	return s.reloaded(ctx, id)
}

// List returns every announcement with its status, newest publish_at first. It returns
// forbidden unless the actor has role ops and unavailable when the database cannot be reached.
func (s *Service) List(ctx context.Context, actor *auth.Principal) ([]Announcement, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	all, err := s.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("list announcements: %w", err)
	}
	now := s.Now.Stored()
	out := make([]Announcement, 0, len(all))
	for _, a := range all {
		c := withStatus(a, now)
		c.BodyHTML = s.resolveImages(ctx, c.BodyHTML)
		out = append(out, c)
	}
	return out, nil
}

// Get returns one announcement with its status. It returns forbidden unless the actor has role
// ops, not_found for an unknown id, and unavailable when the database cannot be reached.
func (s *Service) Get(ctx context.Context, actor *auth.Principal, id string) (*Announcement, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	a, err := s.lookup(ctx, id, true)
	if err != nil {
		return nil, fmt.Errorf("get announcement %s: %w", id, err)
	}
	if a == nil {
		return nil, apperr.New(apperr.NotFound, "announcement not found")
	}
	out := withStatus(a, s.Now.Stored())
	out.BodyHTML = s.resolveImages(ctx, out.BodyHTML)
	return &out, nil
}

// reloaded refreshes the view after a local write and returns the announcement from it.
func (s *Service) reloaded(ctx context.Context, id string) (*Announcement, error) {
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	a, err := s.lookup(ctx, id, true)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, apperr.New(apperr.NotFound, "announcement not found")
	}
	out := withStatus(a, s.Now.Stored())
	out.BodyHTML = s.resolveImages(ctx, out.BodyHTML)
	return &out, nil
}
