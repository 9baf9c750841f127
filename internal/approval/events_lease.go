package approval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// EventLeaseWindow is the length of one lease of the event worker: the replica that inserts a
// window's lease document processes events during that window. A replica that dies loses the
// work for at most the rest of its window; the events wait in the database meanwhile. A holder
// checks its lease between batches, so a batch may overlap the next window's holder: harmless
// (applying is idempotent by version, push keys are unique), only work done twice.
const EventLeaseWindow = 10 * time.Second

// eventLease is the lease of one window.
type eventLease struct {
	ID     string    `bson:"_id"` // "events:<window start, Unix ms>"
	Holder string    `bson:"holder"`
	Start  time.Time `bson:"start"`
	End    time.Time `bson:"end"`
}

// holdEventLease reports whether this replica holds the lease of the current window, claiming
// it by an insert when nobody has, and whether it is newly held (this replica did not hold the
// previous window: the events collection must be scanned).
func (s *Service) holdEventLease(ctx context.Context) (held, fresh bool, err error) {
	now := s.Now.Stored()
	start := now.Truncate(EventLeaseWindow)
	if s.leaseStart.Equal(start) {
		return true, false, nil
	}
	doc := eventLease{ID: fmt.Sprintf("events:%d", start.UnixMilli()), Holder: s.holder(), Start: start,
		End: start.Add(EventLeaseWindow)}
	_, err = s.coll(eventLeasesColl).InsertOne(ctx, doc)
	if mongodb.IsDuplicateKey(err) {
		var cur eventLease
		if err := s.coll(eventLeasesColl).FindOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}).Decode(&cur); err != nil {
			return false, false, fmt.Errorf("read event lease %s: %w", doc.ID, mongodb.Translate(err, "event lease"))
		}
		if cur.Holder != s.holder() {
			return false, false, nil
		}
	} else if err != nil {
		return false, false, fmt.Errorf("claim event lease %s: %w", doc.ID, mongodb.Translate(err, "event lease"))
	}
	fresh = !s.leaseStart.Equal(start.Add(-EventLeaseWindow))
	s.leaseStart = start
	return true, fresh, nil
}

// releaseEventLease gives up the lease this replica holds, if any, so that a replica started
// after a clean stop need not wait for the window to end. A stop mid-batch has already left
// the unfinished events unprocessed.
func (s *Service) releaseEventLease(ctx context.Context) {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	if s.leaseStart.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, _ = s.coll(eventLeasesColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("events:%d", s.leaseStart.UnixMilli())}})
	s.leaseStart = time.Time{}
}

// holder names this replica in the lease documents (random unless Holder is set).
func (s *Service) holder() string {
	s.holderOnce.Do(func() {
		if s.Holder == "" {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			s.Holder = hex.EncodeToString(b)
		}
	})
	return s.Holder
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// purgeEvents deletes processed events older than EventRetention and leases older than an
// hour, at most once a minute. A failure is ignored: the next pass tries again and stale rows
// only cost space. An event still waiting to be processed is never purged.
func (s *Service) purgeEvents(ctx context.Context) {
	now := s.Now.Stored()
	last := s.purged.Load()
	if now.UnixMilli()-last < time.Minute.Milliseconds() || !s.purged.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	_, _ = s.coll(eventsColl).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: now}}},
		{Key: "processed_at", Value: bson.D{{Key: "$exists", Value: true}}}})
	_, _ = s.coll(eventLeasesColl).DeleteMany(ctx, bson.D{{Key: "end", Value: bson.D{{Key: "$lt", Value: now.Add(-time.Hour)}}}})
}
