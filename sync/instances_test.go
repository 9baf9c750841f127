package datasync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/sync/semaphore"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// TestSecondInstanceCatchesUp runs two engines on one database as two server instances on
// MongoDB would (Embedded false): one writes, the other serves the pulls from what it reads in
// the change log.
func TestSecondInstanceCatchesUp(t *testing.T) {
	writer, notes := newEngine(t, nil)
	shared := &mongodb.DB{Client: writer.DB.Client, DB: writer.DB.DB}
	writer.DB = shared
	reader := &Engine{DB: shared, Now: writer.Now}
	reader.Register(notes)
	ctx := context.Background()
	if err := reader.Start(ctx); err != nil {
		t.Fatal(err)
	}
	alice := employee("alice")
	dev := newDevice()
	dev.sync(t, reader, alice)

	t.Run("sees the other instance's writes", func(t *testing.T) {
		if err := notes.write(ctx, writer, note("n1", "alice", "", "from the writer"), nil); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, reader, alice)
		if !slices.Equal(ids(r.Changes["notes"].Updated), []string{"n1"}) {
			t.Fatalf("pull %+v", r.Changes["notes"])
		}
	})
	t.Run("sees the other instance's grants", func(t *testing.T) {
		if err := notes.write(ctx, writer, note("s1", "bob", "beta", "shared"), nil); err != nil {
			t.Fatal(err)
		}
		if r := dev.sync(t, reader, alice); len(r.Changes["notes"].Updated) != 0 {
			t.Fatalf("pull before the grant %+v", r.Changes["notes"])
		}
		if err := writer.Grant(ctx, "alice", ChannelKey("app", "beta")); err != nil {
			t.Fatal(err)
		}
		if r := dev.sync(t, reader, alice); !slices.Equal(ids(r.Changes["notes"].Updated), []string{"s1"}) {
			t.Fatalf("pull after the grant %+v", r.Changes["notes"])
		}
	})
}

// TestInstancesShareOneSequence runs four engines on one database reached by URI, as the fault
// rig's three instances do, each writing from several goroutines while one device pulls from
// each instance in turn: every acknowledged write must reach the device's incremental pulls.
// Two instances that took the same number (one's write is then missing from the change log the
// others read) or a pending number lost from the sequence (a puller moves its cursor past a
// write still in flight) each make it miss notes. FerretDB's updates are not atomic across
// writers, so this holds there only if the sequence rests on unique-index inserts.
func TestInstancesShareOneSequence(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	const instances, writers, writes = 4, 4, 12
	engines := make([]*Engine, instances)
	tables := make([]*notesTable, instances)
	for i := range engines {
		engines[i], tables[i] = instanceOn(t, db, clock)
	}
	u := employee("u1")
	want := map[string]string{}
	var mu sync.Mutex
	dev := newDevice()
	done := make(chan struct{})
	var pw sync.WaitGroup
	pw.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
				dev.sync(t, engines[i%instances], u)
			}
		}
	})
	var ww sync.WaitGroup
	for i := range engines {
		for w := range writers {
			ww.Go(func() {
				for n := range writes {
					id := fmt.Sprintf("i%d-w%d-%d", i, w, n)
					if err := tables[i].write(ctx, engines[i], note(id, "u1", "", id), nil); err != nil {
						t.Errorf("write %s: %v", id, err)
						return
					}
					mu.Lock()
					want[id] = id
					mu.Unlock()
				}
			})
		}
	}
	ww.Wait()
	close(done)
	pw.Wait()
	for i := range engines {
		dev.sync(t, engines[i], u)
	}
	if diff := cmp.Diff(want, dev.texts()); diff != "" {
		t.Errorf("the device's incremental pulls missed acknowledged writes (-want +device):\n%s", diff)
	}
	// No write was slow enough to be reaped.
	if n, err := db.Collection(changesColl).CountDocuments(ctx, bson.D{{Key: "abandoned", Value: true}}); err != nil || n != 0 {
		t.Errorf("%d writes were reaped as abandoned (%v), want none", n, err)
	}
	for i, e := range engines {
		fresh := newDevice()
		fresh.sync(t, e, u)
		if len(fresh.texts()) != len(want) {
			t.Errorf("a first sync on instance %d got %d notes, want %d", i, len(fresh.texts()), len(want))
		}
	}
}

// instanceOn starts an engine with the notes table on db as a server instance reached by URI:
// a client of its own, with no write gate and Embedded false.
func instanceOn(t testing.TB, db *mongodb.DB, clock *testenv.Clock) (*Engine, *notesTable) {
	t.Helper()
	ctx := context.Background()
	own, err := mongodb.Open(ctx, testenv.MongoURI(t), db.DB.Name(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Close(context.Background()) })
	notes := &notesTable{db: own, now: clock.Now}
	e := &Engine{DB: own, Now: clock.Now}
	e.Register(notes)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return e, notes
}

// TestPullsThatWaitForACatchUpDoNotReadAgain: while writes go on, a pull that waited for
// another pull's read of the change log answers up to where that read went (never below its
// own cursor) instead of reading the log once more; pulls queued one read after the other past
// their deadline on the rig's FerretDB.
func TestPullsThatWaitForACatchUpDoNotReadAgain(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	writer, notes := instanceOn(t, db, clock)
	reader, _ := instanceOn(t, db, clock)
	lows := make([]int64, 3) // the low-water mark after each of three writes
	for i := range lows {
		id := fmt.Sprintf("n%d", i)
		if err := notes.write(ctx, writer, note(id, "u1", "", id), nil); err != nil {
			t.Fatal(err)
		}
		snap, err := writer.lowWater(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lows[i] = snap.low
	}
	// waitWhileOtherReads runs a catch-up (since, low) that waits for its turn while another
	// pull's catch-up reads the log up to otherLow, and returns where the first one answers.
	waitWhileOtherReads := func(t *testing.T, since, low, otherLow int64) int64 {
		t.Helper()
		waiting, proceed := make(chan struct{}), make(chan struct{})
		reader.hooks.catchUpWaits = func() { close(waiting); <-proceed }
		got, gotErr := make(chan int64, 1), make(chan error, 1)
		go func() {
			upto, err := reader.catchUp(ctx, since, low)
			got <- upto
			gotErr <- err
		}()
		<-waiting
		reader.hooks.catchUpWaits = nil
		if upto, err := reader.catchUp(ctx, 0, otherLow); err != nil || upto != otherLow {
			t.Fatalf("the other pull's catch-up: %d, %v", upto, err)
		}
		close(proceed)
		upto := <-got
		if err := <-gotErr; err != nil {
			t.Fatal(err)
		}
		return upto
	}

	if upto := waitWhileOtherReads(t, 0, lows[1], lows[0]); upto != lows[0] {
		t.Fatalf("the pull that waited answers up to %d, want %d: where the other read went", upto, lows[0])
	}
	if reader.applied() != lows[0] {
		t.Fatalf("applied %d: the pull that waited read the log again", reader.applied())
	}
	t.Run("but never below its own cursor", func(t *testing.T) {
		if upto := waitWhileOtherReads(t, lows[2], lows[2], lows[1]); upto != lows[2] {
			t.Fatalf("a pull from cursor %d answered up to %d", lows[2], upto)
		}
	})
}

// TestARaceToReapLosesNoChange: two instances' pulls reap the same stale number. The one that
// lost the race used to go on at once, past the number, while the winner had not yet logged it
// as abandoned; its devices never got what the dead writer had stamped. The entry now goes in
// before the number is ended.
func TestARaceToReapLosesNoChange(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	a, notes := instanceOn(t, db, clock)
	b, _ := instanceOn(t, db, clock)
	u := employee("u1")
	dev := newDevice()
	dev.sync(t, b, u)

	// A writer on a that stamps a record and dies.
	p, err := a.allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), p.S, clock.Now(), Record{ID: "orphan",
		Keys: noteKeys("u1", ""), Set: bson.D{{Key: "text", Value: "orphan"}}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultLease + time.Second)
	// a reaps it; b's pull runs in the middle of that.
	a.hooks.reaping = func() {
		a.hooks.reaping = nil
		dev.sync(t, b, u)
	}
	if _, err := a.lowWater(ctx); err != nil {
		t.Fatal(err)
	}
	dev.sync(t, b, u)
	if _, ok := dev.texts()["orphan"]; !ok {
		t.Fatal("the dead writer's record never reached a device pulling from the other instance")
	}
}

// TestAWriterSlowerThanThePruneRunsAgain: a writer slower than pruneAge was reaped and its
// numbers pruned; its release then succeeded (the done document was gone) and it took its write
// for kept, though pulls had gone past it.
func TestAWriterSlowerThanThePruneRunsAgain(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	slow, notes := instanceOn(t, db, clock)
	puller, _ := instanceOn(t, db, clock)
	p, err := slow.allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := notes.write(ctx, puller, note("later", "u1", "", "later"), nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(slow.pruneAge() + time.Second)
	if _, err := puller.lowWater(ctx); err != nil { // reaps p and prunes it
		t.Fatal(err)
	}
	if n, err := db.Collection(claimsColl).CountDocuments(ctx, bson.D{{Key: "_id", Value: p.S}}); err != nil || n != 0 {
		t.Fatalf("the reaped number's claim is still there (%d, %v): nothing was pruned", n, err)
	}
	if kept, err := slow.release(ctx, p); err != nil || kept {
		t.Fatalf("release after the prune = %v, %v; want not kept, so the write runs again", kept, err)
	}
}

// TestAWriteWhoseLogFailsIsNotReleased: a write whose change-log insert failed used to be
// released all the same, and other instances read past its number without learning what it
// changed. It stays pending now, and is reaped and logged as abandoned after the lease.
func TestAWriteWhoseLogFailsIsNotReleased(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	writer, notes := instanceOn(t, db, clock)
	other, _ := instanceOn(t, db, clock)
	u := employee("u1")
	dev := newDevice()
	dev.sync(t, other, u)
	writer.hooks.logging = func() error { return errors.New("the primary stepped down") }
	if err := notes.write(ctx, writer, note("n1", "u1", "", "n1"), nil); err == nil {
		t.Fatal("the write succeeded though its change was not logged")
	}
	writer.hooks.logging = nil
	dev.sync(t, other, u)
	clock.Advance(DefaultLease + time.Second)
	dev.sync(t, other, u)
	if _, ok := dev.texts()["n1"]; !ok {
		t.Fatal("the record of a write whose log failed never reached a device pulling from another instance")
	}
}

// TestAWriterThatEndsWhileBeingReapedRunsAgain: a pull logged a stale number as abandoned, and
// before it could end the number its writer finished: the writer's change-log insert found the
// abandoned entry (a duplicate) and its release succeeded. It took the write for kept, though
// the log named none of its records, and pulls that read named records missed them. It runs
// again now.
func TestAWriterThatEndsWhileBeingReapedRunsAgain(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	writer, notes := instanceOn(t, db, clock)
	puller, _ := instanceOn(t, db, clock)
	started, proceed := make(chan struct{}), make(chan struct{})
	secondRun, done := make(chan struct{}), make(chan error, 1)
	runs := 0
	go func() {
		done <- writer.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
			runs++
			switch runs {
			case 1:
				close(started)
				<-proceed
			case 2:
				close(secondRun)
			}
			touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), seq, clock.Now(), note("n1", "u1", "", "n1"))
			return []Touch{{Table: "notes", Keys: touched, Records: []TouchedRecord{{Key: touched[0], ID: "n1"}}}}, err
		})
	}()
	<-started
	clock.Advance(DefaultLease + time.Second)
	var finished error
	puller.hooks.reaping = func() {
		puller.hooks.reaping = nil
		close(proceed)
		select {
		case <-secondRun:
		case finished = <-done:
		}
	}
	if _, err := puller.lowWater(ctx); err != nil {
		t.Fatal(err)
	}
	if finished == nil {
		finished = <-done
	}
	if finished != nil {
		t.Fatal(finished)
	}
	if runs != 2 {
		t.Fatalf("the write ran %d times, want 2: the one whose number was logged as abandoned must run again", runs)
	}
}

// TestACatchUpWaitsForItsTurnOnlyWithinItsContext: with the database away, each pull in turn
// held the change log's turn for its 5 s of server selection; a pull queued behind others got
// its turn, and its answer, past its deadline (the rig saw one hang to the client's 30 s). A
// pull now waits for its turn only as long as its context allows, and answers unavailable.
func TestACatchUpWaitsForItsTurnOnlyWithinItsContext(t *testing.T) {
	db := testenv.Mongo(t)
	clock := newTestClock()
	ctx := context.Background()
	writer, notes := instanceOn(t, db, clock)
	reader, _ := instanceOn(t, db, clock)
	if err := notes.write(ctx, writer, note("n0", "u1", "", "n0"), nil); err != nil {
		t.Fatal(err)
	}
	snap, err := writer.lowWater(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another pull holds the turn (its read of the log is slow).
	reader.catchUpSemOnce.Do(func() { reader.catchUpSem = semaphore.NewWeighted(1) })
	if err := reader.catchUpSem.Acquire(ctx, 1); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := reader.catchUp(short, 0, snap.low)
		done <- err
	}()
	select {
	case err := <-done:
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("the pull that gave up answered %v, want unavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pull waited for its turn past its context")
	}
	reader.catchUpSem.Release(1)
	if upto, err := reader.catchUp(ctx, 0, snap.low); err != nil || upto != snap.low {
		t.Fatalf("with the turn free: %d, %v", upto, err)
	}
}
