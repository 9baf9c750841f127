// Package analytics records usage events from the apps and from the server itself and answers
// the operating numbers (active users, screens, adoption) from daily rollups held as Roaring
// bitmaps of dense user and device numbers. Raw events keep a keyed pseudonym, never a user id,
// and expire after a retention period (Purge). See README.md.
package analytics

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// The collections this package owns.
const (
	eventsColl    = "analytics_events"    // raw events, _id = pseudonym + ":" + client event id
	numbersColl   = "analytics_numbers"   // dense numbers of users and devices, _id = kind + ":" + pseudonym
	fragmentsColl = "analytics_fragments" // insert-only rollup deltas, one per ingested batch
)

// Defaults of the Service's limits.
const (
	DefaultRetention = 90 * 24 * time.Hour // raw events are deleted after it (Purge)
	MaxLate          = 30 * 24 * time.Hour // events queued offline are accepted this late
	MaxBatch         = 500                 // events in one POST /v1/events
)

// Service ingests events and answers the numbers. DB and Key are required; the zero values of the
// other fields are the defaults.
type Service struct {
	DB  *mongodb.DB
	Key []byte // pseudonym key (LoadKey)
	// Retention is how long raw events are kept; 0 = DefaultRetention.
	Retention time.Duration
	// Limit is the per-device rate limit on app events; the zero value is DefaultLimit.
	Limit Limit
	// CatalogApp maps an app id as reported (a catalogue id, Android package name or iOS bundle
	// id) to the distribution catalogue's id, so that an app's events, check-ins and update
	// checks count under one app; nil = kept as reported.
	CatalogApp func(ctx context.Context, id string) string
	// Members lists the directory's active accounts, for Activation; nil = not available.
	Members func(ctx context.Context) ([]Member, error)
	// Releases gives the staged releases and the app's devices, for ReleaseAdoption and Stuck;
	// nil = not available.
	Releases Releases
	Now      clock.Func

	initOnce sync.Once
	limiter  *limiter
	numbers  *numbers
	rollups  *rollups
	reloadMu sync.Mutex
	reloaded time.Time
	// fragmentInserted, when set (tests), sees each fragment insert's error and may replace it:
	// an error after an applied insert stands for an answer lost on the way back.
	fragmentInserted func(err error) error
	// eventsInserted, when set (tests), does the same for each insert of raw events.
	eventsInserted func(err error) error
}

func (s *Service) init() {
	s.initOnce.Do(func() {
		lim := s.Limit
		if lim.Events == 0 {
			lim = DefaultLimit
		}
		s.limiter = newLimiter(lim)
		s.numbers = &numbers{coll: s.DB.Collection(numbersColl), byKey: map[string]uint32{}, first: map[string]time.Time{}}
		s.rollups = newRollups()
	})
}

func (s *Service) retention() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return DefaultRetention
}

func (s *Service) events() *mongo.Collection    { return s.DB.Collection(eventsColl) }
func (s *Service) fragments() *mongo.Collection { return s.DB.Collection(fragmentsColl) }

// Start creates the indexes and loads the numbers and the rollups into memory: every query
// answers from memory. It fails with unavailable when the database cannot be read.
func (s *Service) Start(ctx context.Context) error {
	s.init()
	if err := mongodb.EnsureIndexes(ctx, s.DB.Collection(numbersColl), mongo.IndexModel{
		Keys: bson.D{{Key: "kind", Value: 1}, {Key: "n", Value: 1}}, Options: options.Index().SetUnique(true).SetName("kind_n"),
	}); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, s.events(), mongo.IndexModel{
		Keys: bson.D{{Key: "at", Value: 1}}, Options: options.Index().SetName("at"),
	}); err != nil {
		return err
	}
	return s.Reload(ctx)
}

// Reload adds the rollup fragments stored since the last reload (with a margin for clocks and
// slow inserts) and reads the assigned numbers again; on MongoDB with several instances it picks
// up what the others ingested. Fragments are never changed; a compactor deletes only parts
// whose days are all held by merged fragments, which readers count instead (rollups.addBatch).
func (s *Service) Reload(ctx context.Context) error {
	s.init()
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	filter := bson.D{}
	now := s.Now.Stored()
	if !s.reloaded.IsZero() {
		filter = bson.D{{Key: "created", Value: bson.D{{Key: "$gte", Value: s.reloaded.Add(-5 * time.Minute)}}}}
	}
	frags, err := mongodb.FindAll[fragment](ctx, s.fragments(), filter, "analytics rollup")
	if err != nil {
		return err
	}
	ok, err := s.rollups.addBatch(frags)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.loadAll(ctx); err != nil {
			return err
		}
	}
	s.reloaded = now
	return s.numbers.load(ctx)
}

// loadAll replaces the rollups in memory with all the stored fragments. Reload calls it in the
// rare case where a merged day arrives whose parts this instance had counted only partly.
func (s *Service) loadAll(ctx context.Context) error {
	frags, err := mongodb.FindAll[fragment](ctx, s.fragments(), bson.D{}, "analytics rollup")
	if err != nil {
		return err
	}
	fresh := newRollups()
	if _, err := fresh.addBatch(frags); err != nil {
		return err
	}
	s.rollups.mu.Lock()
	s.rollups.days, s.rollups.seen, s.rollups.covered = fresh.days, fresh.seen, fresh.covered
	s.rollups.mu.Unlock()
	return nil
}

// catalogApp is CatalogApp or the id itself.
func (s *Service) catalogApp(ctx context.Context, id string) string {
	if s.CatalogApp == nil || id == "" {
		return id
	}
	return s.CatalogApp(ctx, id)
}
