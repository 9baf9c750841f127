package datasync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
