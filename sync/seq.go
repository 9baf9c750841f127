package datasync

import (
	"context"
	"fmt"
	"slices"
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

// seqLocked returns the sequence document for a read-modify-write under seqMu. On the embedded
// database this process is its only writer and writes it only under seqMu, so the copy kept
// from its last write is the document: allocate and release, which every group commit runs
// once each while every other write waits on seqMu, skip a round trip each. Elsewhere, and
// when there is no copy (at start, after an update failed or was not ours to predict), it is
// read.
func (e *Engine) seqLocked(ctx context.Context) (seqDoc, error) {
	if e.DB.Embedded && e.seqCopy != nil {
		d := *e.seqCopy
		d.Pending = slices.Clone(d.Pending)
		return d, nil
	}
	d, err := e.readSeq(ctx)
	if err == nil && e.DB.Embedded {
		e.keepSeqLocked(d)
	}
	return d, err
}

// keepSeqLocked records d as the sequence document's content on the embedded database.
func (e *Engine) keepSeqLocked(d seqDoc) {
	if e.DB.Embedded {
		d.Pending = slices.Clone(d.Pending)
		e.seqCopy = &d
	}
}

// allocate hands out the next sequence number and records it as pending, in one atomic step.
func (e *Engine) allocate(ctx context.Context) (pendingEntry, error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	for {
		d, err := e.seqLocked(ctx)
		if err != nil {
			return pendingEntry{}, err
		}
		// Truncated to the stored precision: release removes the entry by exact value.
		p := pendingEntry{S: d.N + 1, At: e.Now.Stored()}
		e.seqCopy = nil // until the update is known to have been applied
		res, err := e.DB.Collection(metaColl).UpdateOne(ctx,
			e.seqFilter(bson.E{Key: "n", Value: d.N}),
			bson.D{
				{Key: "$set", Value: bson.D{{Key: "n", Value: p.S}}},
				{Key: "$push", Value: bson.D{{Key: "pending", Value: p}}},
			})
		if err != nil {
			return pendingEntry{}, fmt.Errorf("allocate sync sequence: %w", mongodb.Translate(err, "sync sequence"))
		}
		if res.MatchedCount == 1 {
			d.N, d.Pending = p.S, append(d.Pending, p)
			e.keepSeqLocked(d)
			return p, nil
		}
		// Another instance took n+1 first: read again.
	}
}

// release removes p from the pending writes. It reports false when p was no longer pending: a
// puller reaped it after the lease, so its write may have been skipped and must be redone.
// Entries are pulled by exact value because the embedded FerretDB's $pull ignores conditions.
func (e *Engine) release(ctx context.Context, p pendingEntry) (bool, error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	var d seqDoc
	if e.DB.Embedded {
		// Only this process writes the document, under seqMu: see whether p is still pending
		// (reap runs under seqMu too), then pull it by {_id} alone (see seqFilter).
		var err error
		if d, err = e.seqLocked(ctx); err != nil {
			return false, err
		}
		if !slices.ContainsFunc(d.Pending, func(q pendingEntry) bool { return q.S == p.S }) {
			return false, nil
		}
	}
	e.seqCopy = nil // until the update is known to have been applied
	res, err := e.DB.Collection(metaColl).UpdateOne(ctx,
		e.seqFilter(bson.E{Key: "pending.s", Value: p.S}),
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pending", Value: p}}}})
	if err != nil {
		return false, fmt.Errorf("release sync sequence %d: %w", p.S, mongodb.Translate(err, "sync sequence"))
	}
	if e.DB.Embedded && res.MatchedCount == 1 {
		d.Pending = slices.DeleteFunc(d.Pending, func(q pendingEntry) bool { return q.S == p.S })
		e.keepSeqLocked(d)
	}
	return res.MatchedCount == 1, nil
}

// seqFilter is the filter of a conditional update of the sequence document. On MongoDB, and on
// a FerretDB server that other instances may share, the condition is sent. On the embedded
// database, whose only writer is this process, every update of the document holds seqMu and
// the caller has checked the condition on the document it read: the filter is {_id} alone, the
// one shape FerretDB v1.24 pushes down to SQLite; any other makes it read and decode the
// collection in Go, while every write of the engine waits on seqMu.
func (e *Engine) seqFilter(cond bson.E) bson.D {
	if e.DB.Embedded {
		return bson.D{{Key: "_id", Value: seqID}}
	}
	return bson.D{{Key: "_id", Value: seqID}, cond}
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
	e.seqCopy = nil // read afresh below, and again once reaped
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
	d, err = e.readSeq(ctx)
	if err == nil {
		e.keepSeqLocked(d)
	}
	return d, err
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
