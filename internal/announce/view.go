package announce

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// publishDoc is an announce_publish claim: the announcement is published. Only the claim's
// winner sets EnqueuedAt, once its push is enqueued.
type publishDoc struct {
	ID          string     `bson:"_id"`
	PublishedAt time.Time  `bson:"published_at"`
	EnqueuedAt  *time.Time `bson:"enqueued_at,omitempty"`
	// StampedAt is when the publication's sync stamp was written (markStamped).
	StampedAt *time.Time `bson:"stamped_at,omitempty"`
}

// withdrawDoc is an announce_withdraw claim.
type withdrawDoc struct {
	ID          string    `bson:"_id"`
	WithdrawnAt time.Time `bson:"withdrawn_at"`
	// StampedAt is when the withdrawal's sync stamp was written (stampWithdrawn).
	StampedAt *time.Time `bson:"stamped_at,omitempty"`
}

// view is the in-memory copy of the announcements and their publish and withdraw claims. It
// is reloaded at once after this instance writes, and by the publisher loop every tick for
// what other instances wrote; readers reload it themselves when it is older than maxViewAge
// (an instance without the loop, such as a test).
type view struct {
	mu       sync.RWMutex
	loadedAt time.Time
	all      []*Announcement // newest first
	byID     map[string]*Announcement
	pending  map[string]bool // published but not yet confirmed enqueued
	// unstamped are published but their sync stamp is not confirmed: devices that synced
	// before would never pull them.
	unstamped map[string]bool
	// withdrawUnstamped are withdrawn but the withdrawal's stamp is not confirmed: devices
	// would keep the announcement and its inbox items.
	withdrawUnstamped map[string]bool
}

const maxViewAge = 5 * time.Second

// reload reads the three small collections whole and swaps the view.
func (s *Service) reload(ctx context.Context) error {
	docs, err := mongodb.FindAll[*Announcement](ctx, s.DB.Collection(announcementsColl), bson.D{}, "announcement")
	if err != nil {
		return err
	}
	published, err := mongodb.FindAll[publishDoc](ctx, s.DB.Collection(publishColl), bson.D{}, "announcement")
	if err != nil {
		return err
	}
	withdrawn, err := mongodb.FindAll[withdrawDoc](ctx, s.DB.Collection(withdrawColl), bson.D{}, "announcement")
	if err != nil {
		return err
	}
	byID := make(map[string]*Announcement, len(docs))
	for _, a := range docs {
		a.Status = StatusScheduled
		byID[a.ID] = a
	}
	pending, unstamped := make(map[string]bool), make(map[string]bool)
	for _, p := range published {
		if a := byID[p.ID]; a != nil {
			at := p.PublishedAt.UTC()
			a.PublishedAt, a.Status = &at, StatusPublished
			if p.EnqueuedAt == nil {
				pending[p.ID] = true
			}
			if p.StampedAt == nil {
				unstamped[p.ID] = true
			}
		}
	}
	withdrawUnstamped := make(map[string]bool)
	for _, w := range withdrawn {
		if a := byID[w.ID]; a != nil {
			at := w.WithdrawnAt.UTC()
			a.WithdrawnAt, a.Status = &at, StatusWithdrawn
			if w.StampedAt == nil {
				withdrawUnstamped[w.ID] = true
			}
		}
	}
	slices.SortFunc(docs, func(a, b *Announcement) int {
		return cmp.Or(b.PublishAt.Compare(a.PublishAt), cmp.Compare(b.ID, a.ID))
	})
	s.view.mu.Lock()
	s.view.all, s.view.byID, s.view.pending, s.view.unstamped, s.view.loadedAt = docs, byID, pending, unstamped, time.Now()
	s.view.withdrawUnstamped = withdrawUnstamped
	s.view.mu.Unlock()
	return nil
}

// snapshot returns the announcements (shared: callers must not modify them), reloading a
// stale view first.
func (s *Service) snapshot(ctx context.Context) ([]*Announcement, error) {
	s.view.mu.RLock()
	fresh := !s.view.loadedAt.IsZero() && time.Since(s.view.loadedAt) < maxViewAge
	all := s.view.all
	s.view.mu.RUnlock()
	if fresh {
		return all, nil
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	return s.view.all, nil
}

// lookup returns one announcement from the view, or nil. An ops caller's miss reloads the view
// first, since the announcement may have been created on another instance a moment ago;
// employees wait for the next reload instead, so that probing ids cannot make every request
// read the collections.
func (s *Service) lookup(ctx context.Context, id string, reloadOnMiss bool) (*Announcement, error) {
	if _, err := s.snapshot(ctx); err != nil {
		return nil, err
	}
	s.view.mu.RLock()
	a := s.view.byID[id]
	s.view.mu.RUnlock()
	if a != nil || !reloadOnMiss {
		return a, nil
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	return s.view.byID[id], nil
}

// statusAt is a's status at now, expiry included.
func statusAt(a *Announcement, now time.Time) string {
	if a.Status == StatusPublished && a.ExpiresAt != nil && !a.ExpiresAt.After(now) {
		return StatusExpired
	}
	return a.Status
}

// withStatus returns a copy of a for a response, with the status at now.
func withStatus(a *Announcement, now time.Time) Announcement {
	c := *a
	c.Status = statusAt(a, now)
	c.Audience = c.Audience.withLists()
	return c
}
