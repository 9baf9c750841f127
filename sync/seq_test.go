package datasync

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
)

// The sequence on a database reached by URI (seq.go): numbers as claim and done documents.

func TestClaimedSequence(t *testing.T) {
	clock := newTestClock()
	e, notes := instanceOn(t, testenv.Mongo(t), clock)
	ctx := context.Background()
	low := func(t *testing.T) snapshot {
		t.Helper()
		snap, err := e.lowWater(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}

	t.Run("a fresh database starts at firstSeq", func(t *testing.T) {
		if snap := low(t); snap.low != firstSeq || snap.n != firstSeq {
			t.Fatalf("snapshot %+v, want low and n at %d", snap, firstSeq)
		}
	})
	t.Run("a pending number holds the low-water mark back until released", func(t *testing.T) {
		p, err := e.allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap := low(t); snap.low != p.S-1 || snap.n != p.S {
			t.Fatalf("with %d pending: %+v", p.S, snap)
		}
		if kept, err := e.release(ctx, p); err != nil || !kept {
			t.Fatalf("release: %v, %v", kept, err)
		}
		if snap := low(t); snap.low != p.S {
			t.Fatalf("after the release: %+v", snap)
		}
	})
	t.Run("a number past its lease is reaped and its writer told", func(t *testing.T) {
		p, err := e.allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(e.lease() + time.Second)
		if snap := low(t); snap.low != p.S {
			t.Fatalf("after the lease: %+v, want low %d", snap, p.S)
		}
		var c changeDoc
		if err := e.DB.Collection(changesColl).FindOne(ctx, bson.D{{Key: "_id", Value: p.S}}).Decode(&c); err != nil || !c.Abandoned {
			t.Fatalf("change log entry of the reaped number: %+v, %v", c, err)
		}
		if kept, err := e.release(ctx, p); err != nil || kept {
			t.Fatalf("release of a reaped number: %v, %v; want not kept", kept, err)
		}
	})
	t.Run("old numbers are pruned, the top one never", func(t *testing.T) {
		for i := range 20 {
			if err := notes.write(ctx, e, note(string(rune('a'+i)), "u1", "", "x"), nil); err != nil {
				t.Fatal(err)
			}
		}
		top := low(t).n
		clock.Advance(e.pruneAge() + time.Second)
		low(t) // prunes
		for _, coll := range []string{claimsColl, doneColl} {
			n, err := e.DB.Collection(coll).CountDocuments(ctx, bson.D{})
			if err != nil || n != 1 {
				t.Errorf("%s holds %d documents (%v), want the top one only", coll, n, err)
			}
		}
		p, err := e.allocate(ctx)
		if err != nil || p.S != top+1 {
			t.Fatalf("allocated %d (%v) after the prune, want %d", p.S, err, top+1)
		}
		if _, err := e.release(ctx, p); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClaimsStartAboveTheSequenceDocument covers a database whose sequence lived in the sequence
// document (a server before the claims, or the embedded one): numbers go on above its n, and its
// pending writes, whose servers are gone, are logged as abandoned.
func TestClaimsStartAboveTheSequenceDocument(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	clock := newTestClock()
	if _, err := db.Collection(metaColl).InsertOne(ctx, bson.D{{Key: "_id", Value: seqID}, {Key: "n", Value: int64(500)},
		{Key: "pending", Value: bson.A{pendingEntry{S: 498, At: clock.Now()}}}, {Key: "horizon", Value: int64(0)}}); err != nil {
		t.Fatal(err)
	}
	e, _ := instanceOn(t, db, clock)
	if snap, err := e.lowWater(ctx); err != nil || snap.low != 500 || snap.n != 500 {
		t.Fatalf("snapshot %+v, %v; want low and n at 500", snap, err)
	}
	var c changeDoc
	if err := db.Collection(changesColl).FindOne(ctx, bson.D{{Key: "_id", Value: int64(498)}}).Decode(&c); err != nil || !c.Abandoned {
		t.Fatalf("the old pending write: %+v, %v; want logged as abandoned", c, err)
	}
	p, err := e.allocate(ctx)
	if err != nil || p.S != 501 {
		t.Fatalf("allocated %d, %v; want 501", p.S, err)
	}
	// A second instance starting now seeds nothing: the claims are above the document's n.
	other, _ := instanceOn(t, db, clock)
	if snap, err := other.lowWater(ctx); err != nil || snap.low != 500 || snap.n != 501 {
		t.Fatalf("second instance's snapshot %+v, %v; want low 500, n 501", snap, err)
	}
}

// TestPruneBetweenAPullsReads prunes old numbers between a pull's two reads of the sequence: the
// pull must not take a pruned number for a pending one and reap it, which logs it as abandoned
// and makes every device re-read every table (the fault rig saw hundreds of those).
func TestPruneBetweenAPullsReads(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	puller, notes := instanceOn(t, db, clock)
	pruner, _ := instanceOn(t, db, clock)
	for i := range 5 {
		if err := notes.write(ctx, puller, note(string(rune('a'+i)), "u1", "", "x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(puller.pruneAge() + time.Second)
	puller.pruned.Store(clock.Now().UnixNano()) // only the pruner prunes
	puller.hooks.betweenSeqReads = func() {
		if _, err := pruner.lowWater(ctx); err != nil {
			t.Error(err)
		}
	}
	snap, err := puller.lowWater(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.Collection(claimsColl).CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("%d claims left (%v): the pruner did not prune", n, err)
	}
	if n, err := db.Collection(changesColl).CountDocuments(ctx, bson.D{{Key: "abandoned", Value: true}}); err != nil || n != 0 {
		t.Errorf("the pull reaped %d pruned numbers as abandoned (%v), want none", n, err)
	}
	if snap.low != snap.n {
		t.Errorf("snapshot %+v: nothing is pending", snap)
	}
}

// TestEmbeddedStartGoesOnAboveTheClaims: a database that instances shared, opened by the embedded
// server, hands out numbers above the claims, not from the sequence document's older n.
func TestEmbeddedStartGoesOnAboveTheClaims(t *testing.T) {
	db := testenv.Mongo(t) // marked Embedded
	clock := newTestClock()
	ctx := context.Background()
	shared, notes := instanceOn(t, db, clock)
	for i := range 3 {
		if err := notes.write(ctx, shared, note(string(rune('a'+i)), "u1", "", "x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	top, err := shared.topClaim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	embedded := &Engine{DB: db, Now: clock.Now}
	embedded.Register(&notesTable{db: db, now: clock.Now})
	if err := embedded.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := embedded.allocate(ctx)
	if err != nil || p.S <= top {
		t.Fatalf("allocated %d, %v; want above the top claim %d", p.S, err, top)
	}
}

// TestStaleAllocationGivesItsNumberUp: an allocation whose read of the top claim is older than a
// lease by the time its claim is in (that number may have been handed out and pruned meanwhile)
// ends that number unused and claims the next; after three in a row the write fails as
// unavailable.
func TestStaleAllocationGivesItsNumberUp(t *testing.T) {
	clock := newTestClock()
	e, _ := instanceOn(t, testenv.Mongo(t), clock)
	ctx := context.Background()
	top, err := e.topClaim(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slow := 1
	e.hooks.allocating = func() {
		if slow > 0 {
			slow--
			clock.Advance(e.lease() + time.Second)
		}
	}
	p, err := e.allocate(ctx)
	if err != nil || p.S != top+2 {
		t.Fatalf("allocated %d, %v; want %d, after giving %d up", p.S, err, top+2, top+1)
	}
	var d doneDoc
	if err := e.DB.Collection(doneColl).FindOne(ctx, bson.D{{Key: "_id", Value: top + 1}}).Decode(&d); err != nil || d.Reaped {
		t.Fatalf("the number given up: %+v, %v; want ended, not reaped", d, err)
	}
	if snap, err := e.lowWater(ctx); err != nil || snap.low != top+1 {
		t.Fatalf("snapshot %+v, %v; want low %d (the number given up holds nothing back)", snap, err, top+1)
	}
	if _, err := e.release(ctx, p); err != nil {
		t.Fatal(err)
	}

	slow = staleAttempts
	if _, err := e.allocate(ctx); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("after %d stale tries: %v, want unavailable", staleAttempts, err)
	}
	if snap, err := e.lowWater(ctx); err != nil || snap.low != snap.n {
		t.Fatalf("snapshot %+v, %v; the numbers given up must not hold anything back", snap, err)
	}
}
