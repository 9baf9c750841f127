package announce

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// reader is one employee checking what they may see. Their device channels are read from the
// directory only when some announcement's audience has channels the other criteria did not
// settle.
type reader struct {
	s        *Service
	p        *auth.Principal
	channels []string
	loaded   bool
}

func (r *reader) sees(ctx context.Context, a *Announcement, now time.Time) (bool, error) {
	if statusAt(a, now) != StatusPublished {
		return false, nil
	}
	aud := a.Audience
	if aud.All || slices.Contains(aud.UserIDs, r.p.UserID) ||
		(r.p.Department != "" && slices.Contains(aud.Departments, r.p.Department)) ||
		slices.ContainsFunc(r.p.Roles, func(role auth.Role) bool { return slices.Contains(aud.Roles, string(role)) }) {
		return true, nil
	}
	if len(aud.Channels) == 0 {
		return false, nil
	}
	if !r.loaded {
		channels, err := r.s.Members.UserChannels(ctx, r.p.UserID)
		if err != nil {
			return false, err
		}
		r.channels, r.loaded = channels, true
	}
	return slices.ContainsFunc(r.channels, func(c string) bool { return slices.Contains(aud.Channels, c) }), nil
}

// Feed returns the published, unexpired announcements whose audience includes the caller,
// pinned ones first, then newest first. It returns unauthorized without a principal and
// unavailable when the database cannot be reached.
func (s *Service) Feed(ctx context.Context, p *auth.Principal) ([]Summary, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	all, err := s.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("announcements of %s: %w", p.UserID, err)
	}
	now, r := s.Now.Stored(), &reader{s: s, p: p}
	out := []Summary{}
	for _, a := range all {
		ok, err := r.sees(ctx, a, now)
		if err != nil {
			return nil, fmt.Errorf("announcements of %s: %w", p.UserID, err)
		}
		if ok {
			out = append(out, a.summary())
		}
	}
	slices.SortStableFunc(out, func(a, b Summary) int {
		if a.Pinned != b.Pinned {
			if a.Pinned {
				return -1
			}
			return 1
		}
		return cmp.Or(b.PublishedAt.Compare(a.PublishedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

// visible returns announcement id if the caller may read it, else not_found (whether it does
// not exist, is not published, or is for someone else).
func (s *Service) visible(ctx context.Context, p *auth.Principal, id string) (*Announcement, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	a, err := s.lookup(ctx, id, false)
	if err != nil {
		return nil, err
	}
	if a != nil {
		ok, err := (&reader{s: s, p: p}).sees(ctx, a, s.Now.Stored())
		if err != nil || ok {
			return a, err
		}
	}
	return nil, apperr.New(apperr.NotFound, "announcement not found")
}

// Read returns one announcement the caller may read, with when they read and acknowledged it.
// It returns unauthorized without a principal, not_found unless the announcement is published,
// unexpired and for the caller, and unavailable when the database cannot be reached.
func (s *Service) Read(ctx context.Context, p *auth.Principal, id string) (_ *Detail, err error) {
	a, err := s.visible(ctx, p, id)
	if err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "read announcement %s", id)
	d := &Detail{Summary: a.summary(), BodyHTML: s.resolveImages(ctx, a.BodyHTML)}
	if d.ReadAt, err = s.markTime(ctx, readsColl, progressID(id, p.UserID)); err != nil {
		return nil, err
	}
	if d.AcknowledgedAt, err = s.markTime(ctx, acksColl, progressID(id, p.UserID)); err != nil {
		return nil, err
	}
	return d, nil
}

// MarkRead records that the caller read the announcement; the first time stands. It returns the
// same errors as Read.
func (s *Service) MarkRead(ctx context.Context, p *auth.Principal, id string) error {
	if _, err := s.visible(ctx, p, id); err != nil {
		return err
	}
	if err := s.mark(ctx, readsColl, id, p); err != nil {
		return err
	}
	s.recordUsage(p, "announcement_read", id)
	return nil
}

// Acknowledge records that the caller acknowledged an important announcement, which also marks
// it read; the first time stands. It returns conflict for an announcement that is not important
// and otherwise the same errors as Read.
func (s *Service) Acknowledge(ctx context.Context, p *auth.Principal, id string) error {
	a, err := s.visible(ctx, p, id)
	if err != nil {
		return err
	}
	if a.Importance != Important {
		return apperr.New(apperr.Conflict, "only important announcements are acknowledged; mark this one read instead")
	}
	if err := s.mark(ctx, readsColl, id, p); err != nil {
		return err
	}
	if err := s.mark(ctx, acksColl, id, p); err != nil {
		return err
	}
	s.recordUsage(p, "announcement_ack", id)
	return nil
}

// progressID is the _id of a user's read or acknowledgement of an announcement.
func progressID(id, userID string) string { return id + "/" + userID }

// progressDoc is an announce_reads or announce_acks document.
type progressDoc struct {
	Announcement string    `bson:"announcement"`
	UserID       string    `bson:"user_id"`
	Department   string    `bson:"department"`
	At           time.Time `bson:"at"`
}

// mark inserts the caller's progress document once: a Claim, so repeating it keeps the first.
func (s *Service) mark(ctx context.Context, coll, id string, p *auth.Principal) error {
	_, err := mongodb.Claim(ctx, s.DB.Collection(coll), progressID(id, p.UserID), bson.D{
		{Key: "announcement", Value: id}, {Key: "user_id", Value: p.UserID},
		{Key: "department", Value: p.Department}, {Key: "at", Value: s.Now.Stored()},
	})
	if err != nil {
		return fmt.Errorf("mark announcement %s for %s: %w", id, p.UserID, err)
	}
	return nil
}

// markTime returns when a progress document was written, nil when it was not.
func (s *Service) markTime(ctx context.Context, coll, docID string) (*time.Time, error) {
	var d progressDoc
	err := s.DB.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: docID}}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, mongodb.Translate(err, "announcement")
	}
	at := d.At.UTC()
	return &at, nil
}
