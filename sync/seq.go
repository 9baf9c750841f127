package datasync

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// seqDoc is the one document that orders all writes: n is the last number handed out, pending
// the numbers whose writes have not committed yet, horizon the sequence number below which
// tombstones and the change log may be gone. Reading it once gives a consistent snapshot of all
// three.
type seqDoc struct {
	N       int64          `bson:"n"`
	Pending []pendingEntry `bson:"pending"`
	Horizon int64          `bson:"horizon"`
	// Reserved and Clean are the embedded database's (see seqmem.go): n is a reservation,
	// and the last run stopped cleanly at n.
	Reserved bool `bson:"reserved,omitempty"`
	Clean    bool `bson:"clean,omitempty"`
}

type pendingEntry struct {
	S  int64     `bson:"s"`
	At time.Time `bson:"at"`
}

// The read-modify-writes of the sequence document hold e.seqMu: FerretDB's compare-and-swap
// updates are not atomic, whether it runs embedded or as a server that the tests share (where
// db.Lock is a no-op, since it looks like MongoDB). On MongoDB the CAS and $pull are atomic
// across instances and the mutex only orders this instance's writers.

func (e *Engine) readSeq(ctx context.Context) (seqDoc, error) {
	var d seqDoc
	err := e.DB.Collection(metaColl).FindOne(ctx, bson.D{{Key: "_id", Value: seqID}}).Decode(&d)
	if err != nil {
		return d, fmt.Errorf("read sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	return d, nil
}

// allocate hands out the next sequence number and records it as pending, in one atomic step.
func (e *Engine) allocate(ctx context.Context) (pendingEntry, error) {
	if e.DB.Embedded {
		return e.allocateMem(ctx)
	}
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	for {
		d, err := e.readSeq(ctx)
		if err != nil {
			return pendingEntry{}, err
		}
		// Truncated to the stored precision: release removes the entry by exact value.
		p := pendingEntry{S: d.N + 1, At: e.Now.Stored()}
		res, err := e.DB.Collection(metaColl).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: seqID}, {Key: "n", Value: d.N}},
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "n", Value: p.S}}},
				{Key: "$push", Value: bson.D{{Key: "pending", Value: p}}},
			})
		if err != nil {
			return pendingEntry{}, fmt.Errorf("allocate sync sequence: %w", mongodb.Translate(err, "sync sequence"))
		}
		if res.MatchedCount == 1 {
			return p, nil
		}
		// Another instance took n+1 first: read again.
	}
}

// release removes p from the pending writes. It reports false when p was no longer pending: a
// puller reaped it after the lease, so its write may have been skipped and must be redone.
// Entries are pulled by exact value because the embedded FerretDB's $pull ignores conditions.
func (e *Engine) release(ctx context.Context, p pendingEntry) (bool, error) {
	if e.DB.Embedded {
		return e.releaseMem(p), nil
	}
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	res, err := e.DB.Collection(metaColl).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: seqID}, {Key: "pending.s", Value: p.S}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: p}}}})
	if err != nil {
		return false, fmt.Errorf("release sync sequence %d: %w", p.S, mongodb.Translate(err, "sync sequence"))
	}
	return res.MatchedCount == 1, nil
}

// snapshot is the state of the sequence a pull works with.
type snapshot struct {
	low     int64 // every write numbered <= low has committed
	n       int64 // the last number handed out
	horizon int64
}

// lowWater reads the sequence document and returns the low-water mark. Pending writes older than
// the lease are removed first (and only then ignored): their writers find themselves reaped when
// they release and run their write again, so skipping them here loses nothing.
func (e *Engine) lowWater(ctx context.Context) (snapshot, error) {
	if e.DB.Embedded {
		return e.lowWaterMem(ctx)
	}
	d, err := e.readSeq(ctx)
	if err != nil {
		return snapshot{}, err
	}
	cutoff := e.Now.UTC().Add(-e.lease())
	if hasStale(d.Pending, cutoff) {
		if d, err = e.reap(ctx, cutoff); err != nil {
			return snapshot{}, err
		}
	}
	low := d.N
	for _, p := range d.Pending {
		low = min(low, p.S-1)
	}
	return snapshot{low: low, n: d.N, horizon: d.Horizon}, nil
}

func hasStale(pending []pendingEntry, cutoff time.Time) bool {
	for _, p := range pending {
		if p.At.Before(cutoff) {
			return true
		}
	}
	return false
}

// reap removes the pending writes older than cutoff and returns the sequence document as it is
// afterwards, read under the same mutex so that no release of this instance slips in between.
// On MongoDB each $pull is atomic, so a writer either released first or finds its entry gone.
func (e *Engine) reap(ctx context.Context, cutoff time.Time) (seqDoc, error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	d, err := e.readSeq(ctx)
	if err != nil {
		return d, err
	}
	for _, p := range d.Pending {
		if !p.At.Before(cutoff) {
			continue
		}
		e.logger().Warn("sync: reaping a pending write that outlived its lease", "seq", p.S)
		_, err := e.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
			bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: p}}}})
		if err != nil {
			return seqDoc{}, fmt.Errorf("reap sync sequence %d: %w", p.S, mongodb.Translate(err, "sync sequence"))
		}
		if err := e.logAbandoned(ctx, p.S); err != nil {
			return seqDoc{}, err
		}
	}
	return e.readSeq(ctx)
}

// logAbandoned records that the write numbered seq was reaped. If its writer is alive it runs the
// write again and logs that; if it died after stamping records but before logging them, nothing
// else would ever tell a pull to read those records, so the entry says "anything may have
// changed at seq" — in this instance's index, and in the change log for the other instances
// (unless the writer logged its own entry first, which says what it touched). Grants are
// reloaded for the same reason.
func (e *Engine) logAbandoned(ctx context.Context, seq int64) error {
	doc := changeDoc{ID: seq, Abandoned: true, At: e.Now.UTC()}
	e.idx.apply(doc)
	if _, err := e.DB.Collection(changesColl).InsertOne(ctx, doc); err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("log abandoned sync write %d: %w", seq, mongodb.Translate(err, "sync change"))
	}
	return e.loadGrants(ctx)
}
