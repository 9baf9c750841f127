package datasync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
)

// blockGroups starts groupsInFlight writes whose fns wait, on their first run, until the
// returned release is called, so that the writes started meanwhile queue and then run as one
// group. wait returns the blockers' errors once they are done.
func blockGroups(t *testing.T, e *Engine, notes *notesTable) (release func(), wait func()) {
	t.Helper()
	resume := make(chan struct{})
	var started, done sync.WaitGroup
	for i := range groupsInFlight {
		started.Add(1)
		var once sync.Once
		done.Go(func() {
			id := fmt.Sprintf("blocker-%d", i)
			err := notes.write(context.Background(), e, note(id, "u1", "", id), func() {
				once.Do(func() { started.Done(); <-resume })
			})
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
		})
	}
	started.Wait()
	return func() { close(resume) }, done.Wait
}

// waitQueued waits until n writes wait for a group.
func waitQueued(t *testing.T, e *Engine, n int) {
	t.Helper()
	for range 10_000 {
		e.groups.mu.Lock()
		queued := len(e.groups.queue)
		e.groups.mu.Unlock()
		if queued == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d writes never queued", n)
}

func TestWritesQueuedTogetherShareOneNumber(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	u := employee("u1")
	release, blockersDone := blockGroups(t, e, notes)

	const n = 10
	failure := errors.New("the table refused the write")
	var mu sync.Mutex
	seqs := map[int]int64{}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
				mu.Lock()
				seqs[i] = seq
				mu.Unlock()
				if i == 5 {
					panic("a table's bug")
				}
				id := fmt.Sprintf("q%d", i)
				touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), seq, notes.now(), note(id, "u1", "", id))
				switch {
				case err != nil:
					return nil, err
				case i == 3: // fails after writing: what it wrote must still reach devices
					return []Touch{{Table: "notes", Keys: touched}}, failure
				}
				return []Touch{{Table: "notes", Keys: touched}}, nil
			})
		})
	}
	waitQueued(t, e, n)
	release()
	wg.Wait()
	blockersDone()

	t.Run("every queued write ran with the same number", func(t *testing.T) {
		first := seqs[0]
		for i := range n {
			if seqs[i] != first {
				t.Errorf("write %d ran with %d, write 0 with %d", i, seqs[i], first)
			}
		}
	})
	t.Run("a failing write fails alone", func(t *testing.T) {
		for i, err := range errs {
			switch i {
			case 3:
				if !errors.Is(err, failure) {
					t.Errorf("write 3: %v, want its own error", err)
				}
			case 5:
				if err == nil {
					t.Error("write 5 panicked and got no error")
				}
			default:
				if err != nil {
					t.Errorf("write %d: %v", i, err)
				}
			}
		}
	})
	t.Run("a device gets every record written, the failing write's too", func(t *testing.T) {
		dev := newDevice()
		dev.sync(t, e, u)
		want := map[string]string{"blocker-0": "blocker-0", "blocker-1": "blocker-1"}
		for i := range n {
			if i != 5 {
				want[fmt.Sprintf("q%d", i)] = fmt.Sprintf("q%d", i)
			}
		}
		if diff := cmp.Diff(want, dev.texts()); diff != "" {
			t.Errorf("device (-want +got):\n%s", diff)
		}
	})
}

func TestGroupThatOutlivesItsLeaseRunsAgain(t *testing.T) {
	clock := newTestClock()
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	u := employee("u1")
	dev := newDevice()
	dev.sync(t, e, u)
	release, blockersDone := blockGroups(t, e, notes)

	const n = 5
	resume := make(chan struct{})
	var inGroup sync.WaitGroup
	inGroup.Add(n)
	var mu sync.Mutex
	runs := map[int][]int64{}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("m%d", i)
			errs[i] = e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
				mu.Lock()
				runs[i] = append(runs[i], seq)
				first := len(runs[i]) == 1
				mu.Unlock()
				if first {
					inGroup.Done()
					<-resume
				}
				touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), seq, notes.now(), note(id, "u1", "", id))
				return []Touch{{Table: "notes", Keys: touched}}, err
			})
		})
	}
	waitQueued(t, e, n)
	release()
	blockersDone()
	inGroup.Wait() // the group holds its number, its writes not done
	clock.Advance(e.lease() + time.Second)
	dev.sync(t, e, u) // reaps the group's number: the cursor moves past it
	close(resume)
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Errorf("write %d: %v", i, errs[i])
		}
		if len(runs[i]) != 2 || runs[i][0] != runs[0][0] || runs[i][1] <= runs[i][0] {
			t.Errorf("write %d ran with numbers %v, want the group's number %d, then a newer one", i, runs[i], runs[0][0])
		}
	}
	dev.sync(t, e, u)
	want := map[string]string{"blocker-0": "blocker-0", "blocker-1": "blocker-1"}
	for i := range n {
		want[fmt.Sprintf("m%d", i)] = fmt.Sprintf("m%d", i)
	}
	if diff := cmp.Diff(want, dev.texts()); diff != "" {
		t.Errorf("the reaped group's writes were lost (-want +device):\n%s", diff)
	}
}

// TestGroupCommitNeverSkipsAWrite runs many writers, each write a record of its own, so that
// groups form and commit out of order, while devices pull over and over: a cursor that moved
// past a write before all of its group committed would lose that record for good. Some writes
// fail after writing (their records must arrive all the same), some before (nothing to see).
func TestGroupCommitNeverSkipsAWrite(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	pullers := []*auth.Principal{{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}}, employee("u0"), employee("u1")}
	const writers, writesEach = 24, 12
	var mu sync.Mutex
	numbers := map[int64]int{} // how many writes ran under each number
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := range writesEach {
				id := fmt.Sprintf("w%02d-%02d", w, i)
				fate := rng.IntN(10)
				delay := time.Duration(rng.IntN(2000)) * time.Microsecond
				err := e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
					mu.Lock()
					numbers[seq]++
					mu.Unlock()
					if fate == 0 {
						return nil, errors.New("refused before writing")
					}
					time.Sleep(delay) // commits out of order
					touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), seq, notes.now(),
						note(id, fmt.Sprintf("u%d", w%2), "", id))
					if err == nil && fate == 1 {
						err = errors.New("failed after writing")
					}
					return []Touch{{Table: "notes", Keys: touched}}, err
				})
				if (err != nil) != (fate <= 1) {
					t.Errorf("write %s (fate %d): %v", id, fate, err)
				}
			}
		})
	}
	devices := pullWhile(t, e, pullers, wg.Wait)
	shared := 0
	for _, k := range numbers {
		if k > 1 {
			shared++
		}
	}
	t.Logf("%d writes ran under %d numbers, %d of them shared", writers*writesEach, len(numbers), shared)
	for i, p := range pullers {
		devices[i].sync(t, e, p)
		if diff := cmp.Diff(visibleTexts(t, e, notes, p), devices[i].texts()); diff != "" {
			t.Errorf("device of %s differs from the server (-server +device):\n%s", p.UserID, diff)
		}
	}
	if len(visibleTexts(t, e, notes, pullers[0])) == 0 {
		t.Fatal("nothing was written")
	}
}

func TestQueuedWriteWhoseCallerGaveUpDoesNotRun(t *testing.T) {
	e, notes := newEngine(t, nil)
	release, blockersDone := blockGroups(t, e, notes)
	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	done := make(chan error, 1)
	go func() {
		done <- e.Write(ctx, func(context.Context, int64) ([]Touch, error) {
			ran = true
			return nil, nil
		})
	}()
	waitQueued(t, e, 1)
	cancel()
	release()
	blockersDone()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("write: %v, want context.Canceled", err)
	}
	if ran {
		t.Error("the write ran after its caller gave up")
	}
}

// Two writes whose fns each start a write of their own, in flight at once: the inner writes
// join their outer ones. Queued instead, each waited for a group while both groups waited for
// them, and every later write of the instance waited too (offline approval decisions did
// this: applying one closes its task with a write of its own).
func TestWriteStartedInsideAWriteJoinsIt(t *testing.T) {
	e, notes := newEngine(t, nil)
	u := employee("u1")
	resume := make(chan struct{})
	var started sync.WaitGroup
	var mu sync.Mutex
	outerSeq, innerSeq := map[int]int64{}, map[int]int64{}
	errs := make([]error, groupsInFlight)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range groupsInFlight {
		started.Add(1)
		var once sync.Once
		wg.Go(func() {
			errs[i] = e.Write(context.Background(), func(ctx context.Context, seq int64) ([]Touch, error) {
				once.Do(func() { started.Done(); <-resume }) // both groups are in flight
				id := fmt.Sprintf("outer-%d", i)
				touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), seq, notes.now(), note(id, "u1", "", id))
				if err != nil {
					return nil, err
				}
				err = e.Write(ctx, func(ctx context.Context, inner int64) ([]Touch, error) {
					mu.Lock()
					outerSeq[i], innerSeq[i] = seq, inner
					mu.Unlock()
					id := fmt.Sprintf("inner-%d", i)
					touched, _, err := Upsert(ctx, notes.db, notes.db.Collection("notes"), inner, notes.now(), note(id, "u1", "", id))
					return []Touch{{Table: "notes", Keys: touched}}, err
				})
				return []Touch{{Table: "notes", Keys: touched}}, err
			})
		})
	}
	started.Wait()
	close(resume)
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the writes never finished: each inner write waits for its own group")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	for i := range groupsInFlight {
		if innerSeq[i] != outerSeq[i] {
			t.Errorf("write %d: the inner write ran with %d, its outer one with %d", i, innerSeq[i], outerSeq[i])
		}
	}
	t.Run("a device gets what the inner writes wrote", func(t *testing.T) {
		dev := newDevice()
		dev.sync(t, e, u)
		want := map[string]string{}
		for i := range groupsInFlight {
			for _, id := range []string{fmt.Sprintf("outer-%d", i), fmt.Sprintf("inner-%d", i)} {
				want[id] = id
			}
		}
		if diff := cmp.Diff(want, dev.texts()); diff != "" {
			t.Errorf("device (-want +got):\n%s", diff)
		}
	})
	t.Run("a write after them is not held up", func(t *testing.T) {
		if err := notes.write(context.Background(), e, note("after", "u1", "", "after"), nil); err != nil {
			t.Fatal(err)
		}
	})
}

// A write joined to another that panics fails the outer write, as a panic of the outer fn
// does, instead of leaving it waiting for the joined one.
func TestPanicInAJoinedWriteFailsItsWrite(t *testing.T) {
	e, notes := newEngine(t, nil)
	done := make(chan error, 1)
	go func() {
		done <- e.Write(context.Background(), func(ctx context.Context, seq int64) ([]Touch, error) {
			return nil, e.Write(ctx, func(context.Context, int64) ([]Touch, error) { panic("a table's bug") })
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "a table's bug") {
			t.Fatalf("Write: %v, want the panic as an error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the write never ended")
	}
	if err := notes.write(context.Background(), e, note("after", "u1", "", "after"), nil); err != nil {
		t.Fatalf("a write after it: %v", err)
	}
}

// AfterWrite's work runs once the write has released its number (so it may wait for something
// that waits for a group), in order, before the write returns; its error becomes the write's;
// outside a write it runs at once.
func TestAfterWriteRunsOutsideTheWrite(t *testing.T) {
	e, _ := newEngine(t, nil)
	ctx := context.Background()
	var order []string
	err := e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		for _, name := range []string{"first", "second"} {
			if err := AfterWrite(ctx, func(ctx context.Context) error {
				// A write of its own: inside the outer one it would have joined it.
				return e.Write(ctx, func(_ context.Context, inner int64) ([]Touch, error) {
					if inner == seq {
						return nil, fmt.Errorf("%s ran inside the write (number %d)", name, seq)
					}
					order = append(order, name)
					return nil, nil
				})
			}); err != nil {
				return nil, err
			}
		}
		order = append(order, "write")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"write", "first", "second"}; !cmp.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}

	boom := errors.New("boom")
	err = e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		return nil, AfterWrite(ctx, func(context.Context) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write = %v, want the after-write work's error", err)
	}
	ran := false
	if err := AfterWrite(ctx, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("outside a write: ran %v, err %v", ran, err)
	}
}
