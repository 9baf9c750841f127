package datasync

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

// restartEngine starts a new engine on e's database, as the next run of the process would.
func restartEngine(t *testing.T, e *Engine, clock *testenv.Clock) (*Engine, *notesTable) {
	t.Helper()
	notes := &notesTable{db: e.DB, now: clock.Now}
	next := &Engine{DB: e.DB, Now: clock.Now}
	next.Register(notes)
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return next, notes
}

// A crash on the embedded database can leave a record stamped with a number whose write never
// logged what it touched nor released the number. The next start cannot know which numbers;
// every device must still get the record on its next pull.
func TestTheEmbeddedSequenceRecoversFromACrash(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	alice := employee("alice")
	dev := newDevice()
	if err := notes.write(ctx, e, note("n1", "alice", "", "before the crash"), nil); err != nil {
		t.Fatal(err)
	}
	dev.sync(t, e, alice)

	// A write that stamps its record and dies before logging it or releasing its number.
	p, err := e.allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Upsert(ctx, e.DB, e.DB.Collection("notes"), p.S, clock.Now(), note("n2", "alice", "", "stamped, never logged")); err != nil {
		t.Fatal(err)
	}

	next, _ := restartEngine(t, e, clock) // no Stop: the process died
	r := dev.sync(t, next, alice)
	if r.FullResync {
		t.Fatal("the device's cursor from before the crash was refused")
	}
	if got := ids(r.Changes["notes"].Updated); !slices.Contains(got, "n2") {
		t.Fatalf("the first pull after the crash sent %v, want the record of the crashed write n2", got)
	}
	// Numbers never go back: a write after the restart reaches the device too.
	if err := notes.write(ctx, next, note("n3", "alice", "", "after"), nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(dev.sync(t, next, alice).Changes["notes"].Updated); !slices.Equal(got, []string{"n3"}) {
		t.Fatalf("the pull after the restart's first write sent %v, want [n3]", got)
	}
}

// After Stop the next start needs no recovery: no device re-reads anything, and numbers go on
// from where they were.
func TestTheEmbeddedSequenceAfterACleanStop(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	alice := employee("alice")
	dev := newDevice()
	for _, id := range []string{"n1", "n2"} {
		if err := notes.write(ctx, e, note(id, "alice", "", id), nil); err != nil {
			t.Fatal(err)
		}
	}
	dev.sync(t, e, alice)
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var d seqDoc
	if err := e.DB.Collection(metaColl).FindOne(ctx, bson.D{{Key: "_id", Value: seqID}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if !d.Clean || d.N != e.mem.n || len(d.Pending) != 0 {
		t.Fatalf("stored sequence after Stop %+v, want clean at %d", d, e.mem.n)
	}

	last := e.mem.n
	next, nextNotes := restartEngine(t, e, clock)
	if next.idx.unknown != 0 {
		t.Fatalf("a clean restart logged write %d as abandoned", next.idx.unknown)
	}
	// The change log, written in the background, was complete when Stop returned.
	if got := next.idx.lastChange("notes", []string{UserKey("alice")}); got != last {
		t.Fatalf("the index rebuilt from the change log has alice's notes last changed at %d, want %d", got, last)
	}
	if got := dev.sync(t, next, alice).Changes["notes"].Updated; len(got) != 0 {
		t.Fatalf("the first pull after a clean restart sent %v again", ids(got))
	}
	if err := nextNotes.write(ctx, next, note("n3", "alice", "", "after"), nil); err != nil {
		t.Fatal(err)
	}
	if got := ids(dev.sync(t, next, alice).Changes["notes"].Updated); !slices.Equal(got, []string{"n3"}) {
		t.Fatalf("the pull after the restart's first write sent %v, want [n3]", got)
	}
}

// The stored document is written once per reserveBlock numbers, not per write.
func TestTheEmbeddedSequenceReservesNumbersInBlocks(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	first, err := e.allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reserved := e.mem.reserved
	if reserved < first.S {
		t.Fatalf("number %d handed out above the stored reservation %d", first.S, reserved)
	}
	for range 50 {
		p, err := e.allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.release(ctx, p); err != nil || !ok {
			t.Fatalf("release %d: %v, %v", p.S, ok, err)
		}
	}
	if e.mem.reserved != reserved {
		t.Fatalf("the reservation moved from %d to %d within one block", reserved, e.mem.reserved)
	}
	var d seqDoc
	if err := e.DB.Collection(metaColl).FindOne(ctx, bson.D{{Key: "_id", Value: seqID}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.N != reserved || d.Clean || !d.Reserved {
		t.Fatalf("stored sequence %+v, want the reservation %d, not clean", d, reserved)
	}
}
