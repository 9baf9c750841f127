package push

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/quiet/hours"
)

// quietHours are parsed quiet hours: minutes after local midnight, in loc or, when loc is nil,
// in the device's zone.
type quietHours struct {
	on         bool
	start, end int
	loc        *time.Location
}

// until reports whether now falls in the quiet hours in zone loc, and if so when they end.
func (q quietHours) until(now time.Time, loc *time.Location) (time.Time, bool) {
	if !q.on {
		return time.Time{}, false
	}
	if q.loc != nil {
		loc = q.loc
	}
	return hours.Until(q.start, q.end, now, loc)
}

// locations caches loaded time zones; time.LoadLocation reads the zone database every time.
var locations sync.Map

// loadLocation returns the named zone, from the cache when possible.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

// userPrefs is what the fan-out needs of one user's preferences.
type userPrefs struct {
	prefs Prefs
	quiet quietHours
}

// prefsLookup finds the preferences of the users of a fan-out. A small audience reads its users'
// documents by _id; a large one reads push_prefs once, which holds only the users who changed
// something, instead of one query per user.
type prefsLookup struct {
	e      *Engine
	all    map[string]*userPrefs
	loaded bool
}

// byIDLimit is the number of users up to which reading by _id beats one pass over push_prefs.
const byIDLimit = 16

// get returns the preferences of users; users without a document are absent from the map.
func (l *prefsLookup) get(ctx context.Context, users []string) (map[string]*userPrefs, error) {
	if !l.loaded && len(users) > byIDLimit {
		if err := l.loadAll(ctx); err != nil {
			return nil, err
		}
	}
	out := make(map[string]*userPrefs)
	for _, u := range users {
		if l.loaded {
			if p := l.all[u]; p != nil {
				out[u] = p
			}
			continue
		}
		var d prefsDoc
		err := l.e.coll(prefsColl).FindOne(ctx, bson.D{{Key: "_id", Value: u}}).Decode(&d)
		switch {
		case mongodb.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("read push prefs of %s: %w", u, mongodb.Translate(err, "preferences"))
		default:
			out[u] = l.parse(&d)
		}
	}
	return out, nil
}

func (l *prefsLookup) loadAll(ctx context.Context) error {
	cur, err := l.e.coll(prefsColl).Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("read push prefs: %w", mongodb.Translate(err, "preferences"))
	}
	defer cur.Close(ctx)
	l.all = make(map[string]*userPrefs)
	for cur.Next(ctx) {
		var d prefsDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("decode push prefs: %w", err)
		}
		l.all[d.UserID] = l.parse(&d)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read push prefs: %w", mongodb.Translate(err, "preferences"))
	}
	l.loaded = true
	return nil
}

// parse turns a stored document into userPrefs; stored quiet hours that no longer parse (a zone
// removed from the database) are ignored rather than blocking the user's pushes.
func (l *prefsLookup) parse(d *prefsDoc) *userPrefs {
	p := d.Prefs
	q, err := p.normalize()
	if err != nil {
		q = quietHours{}
	}
	return &userPrefs{prefs: p, quiet: q}
}
