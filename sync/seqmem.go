package datasync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
)

// The sequence on the embedded database.
//
// The embedded FerretDB runs inside this process, which is its only writer: nothing else can
// hand out numbers, so the sequence lives in memory (memSeq) and the stored document only has
// to keep numbers from going back across a restart. Every group commit used to update the
// stored document twice (allocate, release), ~3 ms each on SQLite, while every other write
// waited: at 16 concurrent one-record pushes that was two thirds of the database's time.
//
// The stored n is a reservation: numbers up to it may have been handed out. When the next
// number would pass it, one update reserves reserveBlock more and marks the document not
// clean. Stop records the last number handed out and marks it clean. A start that finds it
// not clean follows a crash: a write may have stamped records with a number it never logged
// or released, and nothing says which. The start then logs the next number as abandoned
// (see logAbandoned): every device's next pull reads every table since its cursor once,
// which is what the reaper does after a crash elsewhere (for each pending entry, after the
// lease). Pending entries found in the stored document (from a server before this, or one
// that used a shared database) are abandoned the same way at start.
//
// Pending writes, the lease and the reaper work as on MongoDB (seq.go), on memSeq. The change
// log is written in the background (changeLogWriter).

// reserveBlock is how many numbers one update of the stored document reserves.
const reserveBlock = 10_000

// memSeq is the sequence document held in memory on the embedded database; guarded by
// Engine.seqMu.
type memSeq struct {
	n        int64 // the last number handed out
	reserved int64 // the stored n: no number above it has been handed out
	pending  []pendingEntry
	horizon  int64
}

// startMemSeq loads the stored sequence into memory at Start, recovering from a crash as
// described above.
func (e *Engine) startMemSeq(ctx context.Context) error {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	// A database once served by URI has its numbers as claims (seq.go): go on above them.
	d, top, err := e.readStart(ctx)
	if err != nil {
		return err
	}
	m := memSeq{n: max(d.N, top), reserved: d.N, horizon: d.Horizon}
	var abandoned []int64
	for _, p := range d.Pending {
		abandoned = append(abandoned, p.S)
	}
	if d.Reserved && !d.Clean {
		m.n++ // not handed out before: the stored n was a reservation
		abandoned = append(abandoned, m.n)
		e.logger().Warn("sync: the last run did not stop cleanly; every device re-reads its tables once", "seq", m.n)
	}
	// The stored document must cover m.n before anything is logged under it.
	if m.n > m.reserved || len(d.Pending) > 0 {
		if err := e.reserveLocked(ctx, &m, m.n); err != nil {
			return err
		}
	}
	for _, s := range abandoned {
		if err := e.logAbandoned(ctx, s); err != nil {
			return err
		}
	}
	e.mem = &m
	return nil
}

// reserveLocked records upto+reserveBlock as the stored n, not clean, with no pending entry.
func (e *Engine) reserveLocked(ctx context.Context, m *memSeq, upto int64) error {
	top := upto + reserveBlock
	_, err := e.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "n", Value: top}, {Key: "pending", Value: bson.A{}},
			{Key: "reserved", Value: true}, {Key: "clean", Value: false},
		}}})
	if err != nil {
		return fmt.Errorf("reserve sync sequence numbers: %w", mongodb.Translate(err, "sync sequence"))
	}
	m.reserved = top
	return nil
}

// allocateMem is allocate on the embedded database: no database write but one per
// reserveBlock numbers.
func (e *Engine) allocateMem(ctx context.Context) (pendingEntry, error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	m := e.mem
	if m.n+1 > m.reserved {
		if err := e.reserveLocked(ctx, m, m.n+1); err != nil {
			return pendingEntry{}, err
		}
	}
	m.n++
	p := pendingEntry{S: m.n, At: e.Now.Stored()}
	m.pending = append(m.pending, p)
	return p, nil
}

// releaseMem is release on the embedded database.
func (e *Engine) releaseMem(p pendingEntry) bool {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	m := e.mem
	i := slices.IndexFunc(m.pending, func(q pendingEntry) bool { return q.S == p.S })
	if i < 0 {
		return false // reaped
	}
	m.pending = slices.Delete(m.pending, i, i+1)
	return true
}

// lowWaterMem is lowWater on the embedded database: pending writes older than the lease are
// reaped (and logged as abandoned) first.
func (e *Engine) lowWaterMem(ctx context.Context) (snapshot, error) {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	m := e.mem
	cutoff := e.Now.UTC().Add(-e.lease())
	for i := 0; i < len(m.pending); {
		p := m.pending[i]
		if !p.At.Before(cutoff) {
			i++
			continue
		}
		e.logger().Warn("sync: reaping a pending write that outlived its lease", "seq", p.S)
		m.pending = slices.Delete(m.pending, i, i+1)
		if err := e.logAbandoned(ctx, p.S); err != nil {
			return snapshot{}, err
		}
	}
	low := m.n
	for _, p := range m.pending {
		low = min(low, p.S-1)
	}
	return snapshot{low: low, n: m.n, horizon: m.horizon}, nil
}

// Stop records where the sequence stands, so that the next start on the embedded database
// needs no recovery. Call it once nothing writes any more (after the HTTP server and the
// workers stopped). Elsewhere it does nothing.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.DB.Embedded {
		return nil
	}
	logged := e.changeLog.wait()
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	m := e.mem
	if m == nil || len(m.pending) > 0 || !logged {
		return nil // not started, a write is still out, or a log entry is missing: the next start recovers
	}
	_, err := e.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: m.n}, {Key: "reserved", Value: true}, {Key: "clean", Value: true}}}})
	if err != nil {
		return fmt.Errorf("record the sync sequence at stop: %w", mongodb.Translate(err, "sync sequence"))
	}
	m.reserved = m.n
	return nil
}

// changeLogWriter writes the change log in the background on the embedded database.
//
// There the change log is read only at start, to rebuild the index (other instances do not
// exist, see catchUp); pulls read the index, which a write updates before it releases its
// number. So a group commit need not wait for its log insert: it queues the entry, and one
// goroutine at a time inserts whatever has queued, in one command. An entry that a crash kept
// from the log is covered by the recovery at the next start (startMemSeq), as the crash
// leaves the sequence not clean; Stop marks it clean only once every entry is written.
type changeLogWriter struct {
	mu      sync.Mutex
	queue   []any
	running bool
	drained sync.WaitGroup
	lost    bool // an insert failed: the next start must recover
}

func (w *changeLogWriter) add(e *Engine, doc changeDoc) {
	w.mu.Lock()
	w.queue = append(w.queue, doc)
	start := !w.running
	if start {
		w.running = true
		w.drained.Add(1)
	}
	w.mu.Unlock()
	if start {
		go w.drain(e)
	}
}

func (w *changeLogWriter) drain(e *Engine) {
	defer w.drained.Done()
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := e.DB.InsertMany(ctx, changesColl, batch)
		cancel()
		if err != nil && !onlyDuplicates(err) {
			w.mu.Lock()
			w.lost = true
			w.mu.Unlock()
			e.logger().Error("sync: could not write the change log; the next start re-reads every table once",
				"entries", len(batch), "err", mongodb.Translate(err, "sync change"))
		}
	}
}

// wait waits until every queued entry is written and reports whether all were.
func (w *changeLogWriter) wait() bool {
	w.drained.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.lost
}

// onlyDuplicates reports whether err is a bulk write error made only of duplicate keys: the
// entries are in the log already.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 { // E11000 duplicate key
			return false
		}
	}
	return true
}
