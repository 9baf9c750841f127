package datasync

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// WatermelonDB's synchronize() throws on a timestamp that is not a positive number, so a device
// could not finish its first sync on a new deployment until some write moved the sequence.
func TestFirstPullOnAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	alice := employee("alice")
	check := func(t *testing.T, e *Engine, notes *notesTable) {
		t.Helper()
		dev := newDevice()
		r := dev.sync(t, e, alice) // pull fails the test on a timestamp below 1
		if len(r.Changes["notes"].Updated) != 0 {
			t.Fatalf("an empty database sent %+v", r.Changes["notes"])
		}
		if err := notes.write(ctx, e, note("n1", "alice", "", "first"), nil); err != nil {
			t.Fatal(err)
		}
		r = dev.sync(t, e, alice)
		if got := ids(r.Changes["notes"].Updated); !slices.Equal(got, []string{"n1"}) {
			t.Fatalf("the pull after the first write got %v, want [n1]", got)
		}
		if r.FullResync {
			t.Fatal("the first timestamp was not taken as one of this server's cursors")
		}
	}
	t.Run("a new database answers a positive timestamp and misses no later write", func(t *testing.T) {
		e, notes := newEngine(t, nil)
		check(t, e, notes)
	})
	t.Run("a database whose sequence never moved from 0 does too", func(t *testing.T) {
		// The sequence document as servers before the fix created it, before any write.
		old, notes := newEngine(t, nil)
		if _, err := old.DB.Collection(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: seqID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: int64(0)}}}}); err != nil {
			t.Fatal(err)
		}
		e := &Engine{DB: old.DB, Now: old.Now}
		e.Register(notes)
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, e, notes)
	})
}

// A database whose first write took number 1 (from a server before the fix) and is still pending
// had no positive timestamp to offer until that write committed or was reaped. Its server is
// gone by the time this one starts (no mixed versions share a database, see sync/README.md), so
// the start logs the write as abandoned and the first pull answers timestamp 1 at once: on the
// embedded database (seqmem.go) as where instances share one (seq.go: seedClaims).
func TestPullWhileALegacyFirstWriteIsPending(t *testing.T) {
	legacy := func(t *testing.T) (*Engine, *testenv.Clock) {
		clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
		old, _ := newEngine(t, clock)
		if _, err := old.DB.Collection(metaColl).UpdateOne(context.Background(), bson.D{{Key: "_id", Value: seqID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: int64(1)}, {Key: "reserved", Value: false},
				{Key: "pending", Value: bson.A{pendingEntry{S: 1, At: clock.Now().Truncate(time.Millisecond)}}}}}}); err != nil {
			t.Fatal(err)
		}
		return old, clock
	}
	restart := func(t *testing.T, db *mongodb.DB, clock *testenv.Clock) *Engine {
		e := &Engine{DB: db, Now: clock.Now}
		e.Register(&notesTable{db: db, now: clock.Now})
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return e
	}
	abandoned := func(t *testing.T, db *mongodb.DB) {
		t.Helper()
		var c changeDoc
		err := db.Collection(changesColl).FindOne(context.Background(), bson.D{{Key: "_id", Value: int64(1)}}).Decode(&c)
		if err != nil || !c.Abandoned {
			t.Fatalf("change log entry of the legacy write: %+v, %v; want abandoned", c, err)
		}
	}
	t.Run("shared database: at start", func(t *testing.T) {
		old, clock := legacy(t)
		e := restart(t, &mongodb.DB{Client: old.DB.Client, DB: old.DB.DB}, clock)
		if r := pull(t, e, employee("alice"), 0); r.Timestamp != firstSeq {
			t.Fatalf("timestamp %d, want %d", r.Timestamp, firstSeq)
		}
		abandoned(t, e.DB)
	})
	t.Run("embedded database: at start", func(t *testing.T) {
		old, clock := legacy(t)
		e := restart(t, old.DB, clock)
		pull(t, e, employee("alice"), 0)
		abandoned(t, e.DB)
	})
}

// WatermelonDB re-creates a record that comes as created while it is marked deleted locally, so
// the user's deletion never reaches the server (WatermelonDB issue #649). A device's own pushed
// records must come back as updated, which it ignores for a locally deleted record.
func TestOwnPushedRecordComesBackAsUpdated(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	alice := employee("alice")
	phone, tablet := newDevice(), newDevice()
	phone.sync(t, e, alice)
	tablet.sync(t, e, alice)

	// synchronize(): pull, then push what the phone wrote offline.
	res, err := e.Push(ctx, alice, phone.cursor,
		[]byte(`{"changes":{"notes":{"created":[{"id":"n1","text":"written offline"},{"id":"n2","text":"kept"}],"updated":[],"deleted":[]}}}`))
	if err != nil || res.Accepted != 2 {
		t.Fatalf("push %+v, %v", res, err)
	}
	phone.tables["notes"] = map[string]map[string]any{"n1": {"id": "n1"}, "n2": {"id": "n2"}}
	phone.deleteLocally("notes", "n1")

	r := phone.sync(t, e, alice) // pull fails the test if anything comes as created
	got := ids(r.Changes["notes"].Updated)
	slices.Sort(got)
	if !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("the phone's next pull sent %v as updated, want its own records n1 and n2", got)
	}
	if _, ok := phone.texts()["n1"]; ok {
		t.Fatal("the pull brought back the record the user deleted")
	}
	if res := phone.pushDeletes(t, e, alice, "notes"); res.Accepted != 1 {
		t.Fatalf("push of the deletion %+v", res)
	}
	tablet.sync(t, e, alice)
	if got := tablet.texts(); len(got) != 1 || got["n2"] != "kept" {
		t.Fatalf("the deletion did not reach the server: the tablet holds %v", got)
	}
	phone.sync(t, e, alice)
	if got := phone.texts(); len(got) != 1 || got["n2"] != "kept" {
		t.Fatalf("the phone holds %v", got)
	}
	if n := countLive(t, notes); n != 1 {
		t.Fatalf("%d live notes on the server, want 1", n)
	}
}

func countLive(t *testing.T, n *notesTable) int64 {
	t.Helper()
	c, err := n.db.Collection("notes").CountDocuments(context.Background(),
		bson.D{{Key: "_deleted", Value: bson.D{{Key: "$ne", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A first sync of many records reaches the response writer while the table is still being read:
// the records are never collected into one buffer.
func TestBigFirstSyncStreams(t *testing.T) {
	e, _ := newEngine(t, nil)
	sink := &countingWriter{}
	const records = 5000
	mem := &memTable{name: "memnotes"}
	for i := range records {
		mem.docs = append(mem.docs, noteDoc{ID: fmt.Sprintf("m-%05d", i), AuthorID: "alice",
			Text: "The scanner in bay 4 drops the connection every few minutes since the last update.",
			Meta: Meta{Seq: 2, Keys: noteKeys("alice", "")}})
	}
	var inFlight int
	e.tables, e.byName = []Table{&probeTable{Table: mem, after: func() { inFlight = sink.n }}}, nil
	if err := e.Pull(context.Background(), employee("alice"), 0, sink); err != nil {
		t.Fatal(err)
	}
	// Each record is ~130 bytes; all but the response buffer's last 32 KB must have been written
	// before the table's Pull returned.
	if inFlight < records*100-(32<<10) {
		t.Fatalf("%d of %d bytes reached the writer while the table was read: the pull buffers", inFlight, sink.n)
	}
}

// probeTable runs after once its table's Pull has written everything.
type probeTable struct {
	Table
	after func()
}

func (p *probeTable) Pull(ctx context.Context, q Query, out *TableWriter) error {
	if err := p.Table.Pull(ctx, q, out); err != nil {
		return err
	}
	p.after()
	return nil
}
