package datasync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/sync/semaphore"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
)

// Defaults of Engine's tunables.
const (
	DefaultHorizon = 30 * 24 * time.Hour
	// DefaultLease is short because it is how long a stuck or dead writer can hold every
	// user's cursor; writes are bounded (a push is split, see PushChunk) so that a live writer
	// finishes well within it. See sync/README.md, "Bounded writes".
	DefaultLease         = 10 * time.Second
	DefaultWriteAttempts = 3
	DefaultPushChunk     = 200
	DefaultPushBudget    = 20 * time.Second
)

// Collections owned by the engine.
const (
	metaColl    = "sync_meta"    // the sequence document {_id: "seq", n, pending, horizon} (seq.go)
	changesColl = "sync_changes" // the change log: {_id: seq, touches, grants, at}
	accessColl  = "sync_access"  // grants: {_id: "<user>|<key>", user_id, key, granted, _seq}
	rejectsColl = "sync_rejects" // pushed records that were not applied
	seqID       = "seq"
)

// Engine runs sync for the registered tables. Register the tables, then Start it before serving.
type Engine struct {
	DB *mongodb.DB
	// Now is the clock; nil means time.Now.
	Now    clock.Func
	Logger *slog.Logger
	// Horizon is how long tombstones and the change log are kept; a device whose cursor is
	// older gets a full resync. Zero means DefaultHorizon.
	Horizon time.Duration
	// Lease is how long a write may stay pending: an older pending write no longer holds the
	// cursor back, and its writer runs it again with a new sequence number. It must be well
	// above the clock skew between instances. Zero means DefaultLease.
	Lease time.Duration
	// WriteAttempts is how many times a write runs in all when it keeps outliving its lease;
	// then it gives up (a push lists the records as rejected, unavailable). Zero means
	// DefaultWriteAttempts.
	WriteAttempts int
	// PushChunk is the most records a push applies in one write. A push starts with a tenth
	// of it and sizes each next write from the last one's duration, aiming at a quarter of the
	// lease. Zero means DefaultPushChunk.
	PushChunk int
	// PushBudget is how long a push may keep starting writes: the records it has not reached
	// by then are listed as rejected (unavailable, not stored) for the device to push again.
	// Zero means DefaultPushBudget.
	PushBudget time.Duration

	seqMu  sync.Mutex   // serializes this instance's allocations and updates of the sequence document (seq.go)
	pruned atomic.Int64 // when this instance last pruned the sequence, in Unix nanoseconds (seq.go)
	hooks  testHooks
	groups committer // the writes waiting for, or running in, a group (group.go)
	mu     sync.RWMutex
	tables []Table
	byName map[string]Table
	idx    index
	// catchUp makes one pull at a time read the change log (index.go: catchUp): the pulls
	// that arrive meanwhile find it read when they get their turn. A weighted semaphore of 1
	// rather than a mutex: a pull waits for its turn only as long as its context allows.
	catchUpSem     *semaphore.Weighted
	catchUpSemOnce sync.Once

	// mem is the sequence on the embedded database (seqmem.go), from Start; guarded by seqMu.
	mem *memSeq
	// changeLog writes the change log in the background on the embedded database (seqmem.go).
	changeLog changeLogWriter
}

// Register adds a table. It must be called before Start; registering a name twice panics, as
// that is a wiring bug.
func (e *Engine) Register(t Table) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byName == nil {
		e.byName = map[string]Table{}
	}
	if _, dup := e.byName[t.Name()]; dup {
		panic("datasync: table " + t.Name() + " registered twice")
	}
	e.byName[t.Name()] = t
	e.tables = append(e.tables, t)
}

// Tables returns the names of the registered tables, in registration order.
func (e *Engine) Tables() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, len(e.tables))
	for i, t := range e.tables {
		names[i] = t.Name()
	}
	return names
}

func (e *Engine) registered() []Table {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.tables)
}

func (e *Engine) table(name string) (Table, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.byName[name]
	return t, ok
}

// Start creates the engine's indexes and its sequence document, and loads the change log and
// the grants into the in-memory index (one scan of each). It returns an error when the database
// cannot be read.
func (e *Engine) Start(ctx context.Context) (err error) {
	defer apperr.Wrapf(&err, "start sync engine")
	if err := mongodb.EnsureIndexes(ctx, e.DB.Collection(accessColl),
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}}); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, e.DB.Collection(changesColl),
		mongo.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}}); err != nil {
		return err
	}
	if err := mongodb.EnsureIndexes(ctx, e.DB.Collection(rejectsColl),
		mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "at", Value: 1}}}); err != nil {
		return err
	}
	if err := e.startSequence(ctx); err != nil {
		return err
	}
	return e.load(ctx)
}

// firstSeq is the number the sequence starts at: no write ever takes it, so the lowest possible
// low-water mark, and so the timestamp of a pull on an empty database, is 1. WatermelonDB's
// synchronize() refuses a timestamp that is not a positive number.
const firstSeq = 1

// startSequence creates the sequence document at firstSeq, or moves a database's sequence that
// never handed out a number (n is 0, from before firstSeq existed) up to it. Nothing is stamped
// with a number at or below firstSeq in either case, so the move skips no record. On the
// embedded database it then loads the sequence into memory (seqmem.go); elsewhere it seeds the
// claims (seq.go).
func (e *Engine) startSequence(ctx context.Context) error {
	if err := e.createSequence(ctx); err != nil {
		return err
	}
	if e.DB.Embedded {
		return e.startMemSeq(ctx)
	}
	return e.seedClaims(ctx)
}

// createSequence creates the sequence document, or moves its n up to firstSeq.
func (e *Engine) createSequence(ctx context.Context) error {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	if _, err := mongodb.Claim(ctx, e.DB.Collection(metaColl), seqID, bson.D{
		{Key: "n", Value: int64(firstSeq)}, {Key: "pending", Value: bson.A{}}, {Key: "horizon", Value: int64(0)},
	}); err != nil {
		return err
	}
	_, err := e.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: int64(firstSeq)}}}})
	if err != nil {
		return fmt.Errorf("start sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	return nil
}

func (e *Engine) horizon() time.Duration {
	if e.Horizon > 0 {
		return e.Horizon
	}
	return DefaultHorizon
}

func (e *Engine) lease() time.Duration {
	if e.Lease > 0 {
		return e.Lease
	}
	return DefaultLease
}

func (e *Engine) writeAttempts() int {
	if e.WriteAttempts > 0 {
		return e.WriteAttempts
	}
	return DefaultWriteAttempts
}

func (e *Engine) pushChunk() int {
	if e.PushChunk > 0 {
		return e.PushChunk
	}
	return DefaultPushChunk
}

func (e *Engine) pushBudget() time.Duration {
	if e.PushBudget > 0 {
		return e.PushBudget
	}
	return DefaultPushBudget
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

// testHooks let tests run something at a point where a race would otherwise have to be won by
// timing. Nil in production.
type testHooks struct {
	betweenSeqReads func()       // in lowWater, between its two reads (seq.go)
	catchUpWaits    func()       // in catchUp, just before it waits for its turn (index.go)
	allocating      func()       // in allocate, between its read of the top claim and its insert (seq.go)
	reaping         func()       // in lowWater, between logging a stale number abandoned and ending it (seq.go)
	logging         func() error // in logChange, before its insert: an error fails it (write.go)
}
