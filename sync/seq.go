package datasync

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// seqDoc is the sequence document: horizon is the sequence number below which tombstones and
// the change log may be gone. On the embedded database n is the last number handed out (a
// reservation, see seqmem.go); elsewhere the numbers are documents of their own (below), and n
// and pending only seed them on a database whose sequence lived here (seedClaims).
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

// The sequence on a database reached by URI (MongoDB, or FerretDB shared by several instances).
//
// Every number is a document: a claim in claimsColl ({_id: n, at}) hands n out, and a
// document in doneColl ({_id: n, reaped}) ends it, inserted either by its writer (released) or by
// a puller that found it past its lease (reaped). Both are inserts guarded by the _id's unique
// index, the one thing that holds on every database this runs on: FerretDB's updates are not
// atomic across writers, and a compare-and-swap of one sequence document there handed the same
// number to two instances, or lost a pending entry, so that pulls skipped writes (the fault rig
// saw it; TestInstancesShareOneSequence shows it). So:
//   - a number is handed out once: two instances that try the same n race for one insert;
//   - numbers are handed out in order with no gap: a claim is always the top claim read plus one,
//     so the claims are contiguous and a successful insert is above every claim there is;
//   - a pending number is ended once, either released or reaped, never both: its writer learns
//     which from the done document when its own insert finds one there (and runs its write again).
//
// A pull reads the done documents and the claims (in that order, see lowWater) and answers up
// to the number below the lowest pending claim. The documents below
// that which are older than pruneAge are deleted now and then (the top claim never, as
// everything pruned is below a pending claim or the top). A number pruned and claimed again would
// be handed out twice; an allocation whose read of the top claim is older than a lease gives
// its number up (ended as done, unused) and tries again, which rules that out as long as the
// instances' clocks agree within pruneAge minus a lease, far more than the lease already asks.
//
// e.seqMu orders this instance's allocations (the others race for the insert).

const (
	claimsColl = "sync_seq_claims" // {_id: n, at}: n was handed out at at
	doneColl   = "sync_seq_done"   // {_id: n, reaped, at}: n's write committed, or was reaped
)

type claimDoc struct {
	S  int64     `bson:"_id"`
	At time.Time `bson:"at"`
}

type doneDoc struct {
	S      int64     `bson:"_id"`
	Reaped bool      `bson:"reaped,omitempty"`
	At     time.Time `bson:"at"`
}

// pruneAge (as a multiple of the lease) and pruneEvery: see above. An allocation is stale after
// one lease (a write that slow would be reaped anyway), and gives up after staleAttempts stale
// tries in a row: the database is then too slow to write anything within a lease.
const (
	pruneAgeLeases = 3
	pruneEvery     = time.Second
	staleAttempts  = 3
)

func (e *Engine) pruneAge() time.Duration { return pruneAgeLeases * e.lease() }

func (e *Engine) readSeq(ctx context.Context) (seqDoc, error) {
	var d seqDoc
	err := e.DB.Collection(metaColl).FindOne(ctx, bson.D{{Key: "_id", Value: seqID}}).Decode(&d)
	if err != nil {
		return d, fmt.Errorf("read sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	return d, nil
}

// topClaim returns the highest number handed out.
func (e *Engine) topClaim(ctx context.Context) (int64, error) {
	var c claimDoc
	err := e.DB.Collection(claimsColl).FindOne(ctx, bson.D{},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&c)
	switch {
	case mongodb.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	return c.S, nil
}

// end inserts n's done document; ended is false when it was there already.
func (e *Engine) end(ctx context.Context, n int64, reaped bool) (ended bool, err error) {
	_, err = e.DB.Collection(doneColl).InsertOne(ctx, doneDoc{S: n, Reaped: reaped, At: e.Now.Stored()})
	switch {
	case err == nil:
		return true, nil
	case mongodb.IsDuplicateKey(err):
		return false, nil
	default:
		return false, fmt.Errorf("end sync sequence %d: %w", n, mongodb.Translate(err, "sync sequence"))
	}
}

// readStart reads what a start goes on from: the sequence document and the top claim (0 when
// there is none). Either may be ahead: a database can be served embedded (seqmem.go) and by
// URI in turn.
func (e *Engine) readStart(ctx context.Context) (seqDoc, int64, error) {
	d, err := e.readSeq(ctx)
	if err != nil {
		return d, 0, err
	}
	top, err := e.topClaim(ctx)
	return d, top, err
}

// seedClaims makes the claims start above every number the sequence document handed out: at
// the first start on a database (n is firstSeq) or one whose sequence lived in the document
// (a server before the claims, or the embedded database's, see seqmem.go). The seed is
// ended before it is claimed, so no pull ever sees it pending. Pending entries of the document
// are writes of stopped servers: they are logged as abandoned.
func (e *Engine) seedClaims(ctx context.Context) error {
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	d, top, err := e.readStart(ctx)
	if err != nil {
		return err
	}
	seed := max(d.N, firstSeq)
	if top >= seed {
		return nil
	}
	if _, err := e.end(ctx, seed, false); err != nil {
		return err
	}
	if _, err := e.DB.Collection(claimsColl).InsertOne(ctx, claimDoc{S: seed, At: e.Now.Stored()}); err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("seed sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	for _, p := range d.Pending {
		if err := e.logAbandoned(ctx, p.S); err != nil {
			return err
		}
	}
	return nil
}

// allocate hands out the next sequence number, pending until release.
func (e *Engine) allocate(ctx context.Context) (pendingEntry, error) {
	if e.DB.Embedded {
		return e.allocateMem(ctx)
	}
	e.seqMu.Lock()
	defer e.seqMu.Unlock()
	for stale := 0; ; {
		read := e.Now.UTC()
		top, err := e.topClaim(ctx)
		if err != nil {
			return pendingEntry{}, err
		}
		if e.hooks.allocating != nil {
			e.hooks.allocating()
		}
		p := pendingEntry{S: top + 1, At: e.Now.Stored()}
		_, err = e.DB.Collection(claimsColl).InsertOne(ctx, claimDoc(p))
		switch {
		case mongodb.IsDuplicateKey(err):
			continue // another instance took it: read again
		case err != nil:
			return pendingEntry{}, fmt.Errorf("allocate sync sequence: %w", mongodb.Translate(err, "sync sequence"))
		}
		if e.Now.UTC().Sub(read) <= e.lease() {
			return p, nil
		}
		// The number may have been handed out and pruned since the read: give it up.
		if _, err := e.end(ctx, p.S, false); err != nil {
			return pendingEntry{}, err
		}
		if stale++; stale == staleAttempts {
			return pendingEntry{}, apperr.New(apperr.Unavailable, "the database is too slow to number a sync write; try again")
		}
	}
}

// release ends p. It reports false when p was reaped first: a puller found it past its lease,
// so its write may have been skipped and must be redone.
func (e *Engine) release(ctx context.Context, p pendingEntry) (bool, error) {
	if e.DB.Embedded {
		return e.releaseMem(p), nil
	}
	ended, err := e.end(ctx, p.S, false)
	if err != nil {
		return false, err
	}
	if ended {
		// A number's claim and done document are pruned pruneAge after its claim: a writer
		// slower than that may have been reaped, its done document pruned, and this insert
		// succeed all the same. It was skipped then, so it must run again.
		return e.Now.UTC().Sub(p.At) < e.pruneAge(), nil
	}
	// Ended already: reaped, or by this very insert retried by the driver after a network error.
	var d doneDoc
	if err := e.DB.Collection(doneColl).FindOne(ctx, bson.D{{Key: "_id", Value: p.S}}).Decode(&d); err != nil {
		return false, fmt.Errorf("release sync sequence %d: %w", p.S, mongodb.Translate(err, "sync sequence"))
	}
	return !d.Reaped, nil
}

// snapshot is the state of the sequence a pull works with.
type snapshot struct {
	low     int64 // every write numbered <= low has committed
	n       int64 // the last number handed out
	horizon int64
}

// lowWater returns the low-water mark. Pending writes older than the lease are reaped first (and
// only then ignored): their writers find themselves reaped when they release and run their write
// again, so skipping them here loses nothing.
func (e *Engine) lowWater(ctx context.Context) (snapshot, error) {
	if e.DB.Embedded {
		return e.lowWaterMem(ctx)
	}
	d, err := e.readSeq(ctx)
	if err != nil {
		return snapshot{}, err
	}
	// The done documents first: a number pruned (claim, then done document) between the two
	// reads is then either in both or in neither; read the other way round it would look
	// pending and be reaped. A number ended after the first read looks pending, which only
	// holds the answer back.
	var done []doneDoc
	if err := e.findAll(ctx, doneColl, bson.D{}, &done); err != nil {
		return snapshot{}, err
	}
	if e.hooks.betweenSeqReads != nil {
		e.hooks.betweenSeqReads()
	}
	var claims []claimDoc
	if err := e.findAll(ctx, claimsColl, bson.D{}, &claims); err != nil {
		return snapshot{}, err
	}
	if len(claims) == 0 {
		return snapshot{}, apperr.New(apperr.Unavailable, "sync sequence is missing; restart the server")
	}
	ended := make(map[int64]bool, len(done))
	for _, x := range done {
		ended[x.S] = true
	}
	now := e.Now.UTC()
	cutoff := now.Add(-e.lease())
	n := claims[len(claims)-1].S
	low := n
	for _, c := range claims {
		if ended[c.S] {
			continue
		}
		if c.At.Before(cutoff) {
			// Logged as abandoned before it is ended: once it is, other instances read the
			// change log past it, and an entry that came later was never read (an instance
			// that lost the race to end it went on at once).
			if err := e.logAbandoned(ctx, c.S); err != nil {
				return snapshot{}, err
			}
			if e.hooks.reaping != nil {
				e.hooks.reaping()
			}
			reaped, err := e.end(ctx, c.S, true)
			if err != nil {
				return snapshot{}, err
			}
			if reaped {
				e.logger().Warn("sync: reaped a pending write that outlived its lease", "seq", c.S)
			}
			continue // ended either way
		}
		low = min(low, c.S-1)
	}
	e.pruneSequence(ctx, claims, low, now)
	return snapshot{low: low, n: n, horizon: d.Horizon}, nil
}

// pruneSequence deletes the claims, then the done documents, up to the last of the oldest
// claims that are below low and older than pruneAge, at most once every pruneEvery. Failing
// changes nothing (the next prune deletes them), so it is only logged.
func (e *Engine) pruneSequence(ctx context.Context, claims []claimDoc, low int64, now time.Time) {
	last := now.UnixNano()
	if prev := e.pruned.Load(); last-prev < int64(pruneEvery) || !e.pruned.CompareAndSwap(prev, last) {
		return
	}
	cutoff := now.Add(-e.pruneAge())
	upto := int64(-1)
	for _, c := range claims {
		if c.S >= low || !c.At.Before(cutoff) {
			break
		}
		upto = c.S
	}
	if upto < 0 {
		return
	}
	below := bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: upto}}}}
	for _, coll := range []string{claimsColl, doneColl} {
		if _, err := e.DB.Collection(coll).DeleteMany(ctx, below); err != nil {
			e.logger().Warn("sync: prune the sequence", "collection", coll, "err", mongodb.Translate(err, "sync sequence"))
			return
		}
	}
}

func (e *Engine) findAll(ctx context.Context, coll string, filter bson.D, out any) error {
	cur, err := e.DB.Collection(coll).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err == nil {
		err = cur.All(ctx, out)
	}
	if err != nil {
		return fmt.Errorf("read sync sequence: %w", mongodb.Translate(err, "sync sequence"))
	}
	return nil
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
