package push

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Prefs are a user's push preferences. They only decide whether and when a push is sent: the
// inbox always shows the notification.
type Prefs struct {
	// Off lists the categories the user wants no push for.
	Off []Category `bson:"off,omitempty" json:"off"`
	// QuietStart and QuietEnd ("22:00", "07:00") bound the local hours during which non-urgent
	// pushes wait until QuietEnd; both empty means no quiet hours. The hours may span midnight.
	QuietStart string `bson:"quiet_start,omitempty" json:"quiet_start"`
	QuietEnd   string `bson:"quiet_end,omitempty" json:"quiet_end"`
	// Timezone is the IANA zone of the quiet hours; empty means each device's own zone.
	Timezone string `bson:"timezone,omitempty" json:"timezone"`
}

// PrefsStore keeps Prefs in push_prefs, one document per user (_id = user id).
type PrefsStore struct {
	DB *mongodb.DB
	// Now is the clock; nil means time.Now.
	Now clock.Func
}

type prefsDoc struct {
	UserID    string `bson:"_id"`
	Prefs     `bson:",inline"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// Get returns the caller's preferences; a user who never set any gets the defaults (everything
// on, no quiet hours). It returns unauthorized without a principal and unavailable when the
// database cannot be reached.
func (s *PrefsStore) Get(ctx context.Context, p *auth.Principal) (Prefs, error) {
	if p == nil {
		return Prefs{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	var d prefsDoc
	err := s.DB.Collection(prefsColl).FindOne(ctx, bson.D{{Key: "_id", Value: p.UserID}}).Decode(&d)
	switch {
	case mongodb.IsNotFound(err):
		return Prefs{}, nil
	case err != nil:
		return Prefs{}, fmt.Errorf("get push prefs of %s: %w", p.UserID, mongodb.Translate(err, "preferences"))
	}
	return d.Prefs, nil
}

// Set replaces the caller's preferences and returns them normalized. It returns unauthorized
// without a principal, invalid (with Field) for a bad category, time or zone, and unavailable
// when the database cannot be reached.
func (s *PrefsStore) Set(ctx context.Context, p *auth.Principal, prefs Prefs) (Prefs, error) {
	if p == nil {
		return Prefs{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if _, err := prefs.normalize(); err != nil {
		return Prefs{}, err
	}
	// A whole-document replace by _id needs no lock: the last writer wins, as the caller expects.
	doc := prefsDoc{UserID: p.UserID, Prefs: prefs, UpdatedAt: s.Now.Stored()}
	coll := s.DB.Collection(prefsColl)
	filter := bson.D{{Key: "_id", Value: p.UserID}}
	_, err := coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	if mongodb.IsDuplicateKey(err) {
		// Two first-time upserts raced and the other inserted; now the document exists.
		_, err = coll.ReplaceOne(ctx, filter, doc)
	}
	if err != nil {
		return Prefs{}, fmt.Errorf("set push prefs of %s: %w", p.UserID, mongodb.Translate(err, "preferences"))
	}
	return prefs, nil
}

// normalize validates p, sorts and deduplicates Off, and returns the parsed quiet hours.
func (p *Prefs) normalize() (quietHours, error) {
	for _, c := range p.Off {
		if !c.Valid() {
			return quietHours{}, apperr.Field("off", "unknown category %q", c)
		}
	}
	slices.Sort(p.Off)
	p.Off = slices.Compact(p.Off)
	var q quietHours
	if p.QuietStart == "" && p.QuietEnd == "" {
		return q, nil
	}
	var err error
	if q.start, err = parseClock(p.QuietStart); err != nil {
		return q, apperr.Field("quiet_start", "quiet_start must be a time like 22:00")
	}
	if q.end, err = parseClock(p.QuietEnd); err != nil {
		return q, apperr.Field("quiet_end", "quiet_end must be a time like 07:00")
	}
	if p.Timezone != "" {
		if q.loc, err = loadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
			return q, apperr.Field("timezone", "timezone must be an IANA time zone name")
		}
	}
	q.on = q.start != q.end
	return q, nil
}

// off reports whether the user switched push off for c.
func (p *Prefs) off(c Category) bool { return slices.Contains(p.Off, c) }

// parseClock parses "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}
