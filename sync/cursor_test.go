package datasync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// visibleTexts is the final state a user must converge to: the live notes they may see.
func visibleTexts(t *testing.T, e *Engine, n *notesTable, p *auth.Principal) map[string]string {
	t.Helper()
	cur, err := n.db.Collection("notes").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []noteDoc
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	granted, _, _ := e.idx.access(p.UserID, 0)
	keys := append(staticKeys(p), granted...)
	out := map[string]string{}
	for _, d := range docs {
		if !d.Deleted && intersects(d.Keys, keys) {
			out[d.ID] = d.Text
		}
	}
	return out
}

func TestConcurrentWritersNeverSkipAChange(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	tester := employee("tester")
	if err := e.Grant(ctx, tester.UserID, ChannelKey("app", "a")); err != nil {
		t.Fatal(err)
	}
	pullers := []*auth.Principal{
		{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}},
		employee("u0"),
		tester,
	}
	const writers, writesEach, ids = 8, 30, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range writesEach {
				n := rng.IntN(ids)
				r := Record{
					ID:          fmt.Sprintf("note-%02d", n),
					Keys:        noteKeys(fmt.Sprintf("u%d", n%3), []string{"", "a", "b"}[rng.IntN(3)]),
					Set:         bson.D{{Key: "text", Value: fmt.Sprintf("w%d-%d", w, i)}},
					SetOnInsert: bson.D{{Key: "author_id", Value: fmt.Sprintf("u%d", n%3)}},
					Delete:      rng.IntN(7) == 0,
				}
				delay := time.Duration(rng.IntN(3000)) * time.Microsecond
				// The delay sits between allocating the sequence number and writing, so writes
				// commit out of order.
				if err := notes.write(ctx, e, r, func() { time.Sleep(delay) }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	devices := pullWhile(t, e, pullers, wg.Wait)
	for i, p := range pullers {
		devices[i].sync(t, e, p) // one last pull after everything committed
		if diff := cmp.Diff(visibleTexts(t, e, notes, p), devices[i].texts()); diff != "" {
			t.Errorf("device of %s differs from the server (-server +device):\n%s", p.UserID, diff)
		}
	}
}

func TestWriteThatOutlivesItsLeaseIsStillDelivered(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	u := employee("u1")
	if err := notes.write(ctx, e, Record{ID: "first", Keys: noteKeys("u1", ""),
		Set: bson.D{{Key: "text", Value: "first"}}}, nil); err != nil {
		t.Fatal(err)
	}
	dev := newDevice()
	dev.sync(t, e, u)

	started, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := make(chan error, 1)
	go func() {
		slow <- notes.write(ctx, e, Record{ID: "slow", Keys: noteKeys("u1", ""),
			Set: bson.D{{Key: "text", Value: "slow"}}}, func() {
			once.Do(func() { close(started); <-resume })
		})
	}()
	<-started
	if err := notes.write(ctx, e, Record{ID: "fast", Keys: noteKeys("u1", ""),
		Set: bson.D{{Key: "text", Value: "fast"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if r := pull(t, e, u, dev.cursor); r.Timestamp != dev.cursor {
		t.Fatalf("a pending write must hold the cursor at %d, got %d", dev.cursor, r.Timestamp)
	}
	clock.Advance(DefaultLease + time.Second)
	dev.sync(t, e, u) // reaps the slow write: the cursor moves past it and "fast" arrives
	if got := dev.texts(); got["fast"] != "fast" {
		t.Fatalf("after the lease the cursor should move on, device has %v", got)
	}
	close(resume)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	dev.sync(t, e, u)
	if diff := cmp.Diff(map[string]string{"first": "first", "fast": "fast", "slow": "slow"}, dev.texts()); diff != "" {
		t.Errorf("the slow write was lost (-want +device):\n%s", diff)
	}
}

func TestWriterThatDiesAfterStampingIsStillDelivered(t *testing.T) {
	// A process that stamps a record and dies before logging the change leaves no trace in the
	// change log or any index; once its number is reaped, pulls must still read that record.
	clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	u := employee("u1")
	if err := notes.write(ctx, e, Record{ID: "before", Keys: noteKeys("u1", ""),
		Set: bson.D{{Key: "text", Value: "before"}}}, nil); err != nil {
		t.Fatal(err)
	}
	dev := newDevice()
	dev.sync(t, e, u)

	// The dying writer: a number, a stamped record, and nothing else.
	p, err := e.allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), p.S, clock.Now(), Record{ID: "orphan",
		Keys: noteKeys("u1", ""), Set: bson.D{{Key: "text", Value: "orphan"}}}); err != nil {
		t.Fatal(err)
	}
	dev.sync(t, e, u)
	if _, ok := dev.texts()["orphan"]; ok {
		t.Fatal("a write still pending must not be delivered yet")
	}

	// A restarted instance knows nothing of the write either.
	restarted := &Engine{DB: e.DB, Now: clock.Now}
	restarted.Register(notes)
	if err := restarted.Start(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultLease + time.Second)
	dev.sync(t, restarted, u)
	if diff := cmp.Diff(map[string]string{"before": "before", "orphan": "orphan"}, dev.texts()); diff != "" {
		t.Errorf("the dead writer's record was lost (-want +device):\n%s", diff)
	}
	// The first instance learns of it from the change log (on MongoDB) or its own reaping.
	other := newDevice()
	other.sync(t, e, u)
	if diff := cmp.Diff(map[string]string{"before": "before", "orphan": "orphan"}, other.texts()); diff != "" {
		t.Errorf("a first sync on the other instance (-want +device):\n%s", diff)
	}
}

// A write's fn, and a push's table, run again after outliving the lease are told so (Rerun):
// they must stamp with the new number even what they would skip as unchanged.
func TestARerunIsToldItIsOne(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	e, _ := newEngine(t, clock)
	ctx := context.Background()
	var runs []bool
	err := e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		runs = append(runs, Rerun(ctx))
		if len(runs) == 1 {
			clock.Advance(DefaultLease + time.Second)
			pull(t, e, employee("u1"), 0) // reaps this write's number
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{false, true}; !cmp.Equal(runs, want) {
		t.Fatalf("Rerun in each run: %v, want %v", runs, want)
	}
}
