package approval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// replica is another server process on the fixture's database: its own memory (event
// hand-off, lease, list view), the same collections.
func (f *fixture) replica(holder string) *approval.Service {
	return &approval.Service{DB: f.svc.DB, Directory: f.svc.Directory, Push: f.pusher, Sync: f.sync,
		Now: f.clock.Now, Holder: holder}
}

// sharedReplica is a replica with a connection of its own to the fixture's database, as
// replicas sharing a FerretDB reached by URI have: not Embedded, unlike the fixture's (the test
// server is the embedded FerretDB).
func (f *fixture) sharedReplica(t *testing.T, holder string) *approval.Service {
	t.Helper()
	db, err := mongodb.Open(f.ctx, testenv.MongoURI(t), f.svc.DB.DB.Name(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return &approval.Service{DB: db, Directory: f.svc.Directory, Push: f.pusher, Sync: f.sync, Now: f.clock.Now, Holder: holder}
}

// accept signs ev as message id and has svc accept it, without processing it.
func (f *fixture) accept(t *testing.T, svc *approval.Service, id string, ev any) {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Ingest(f.ctx, f.source, signed(id, f.clock.Now(), body, f.secret), body)
	if err != nil || res.Result != approval.ResultAccepted {
		t.Fatalf("accept %s: %+v %v", id, res, err)
	}
}

func (f *fixture) result(t *testing.T, id string) string {
	t.Helper()
	st, err := f.svc.EventStatus(f.ctx, f.source, id)
	if err != nil {
		t.Fatal(err)
	}
	return st.Result
}

func TestAcceptedEventsSurviveARestart(t *testing.T) {
	f := newFixture(t)
	before := f.replica("before-restart")
	for i := range 3 {
		f.accept(t, before, fmt.Sprint("r", i), taskEvent(approval.EventTaskCreated, instance(fmt.Sprint("i", i), 1, "PENDING"),
			task(fmt.Sprint("t", i), "E100", 1, "PENDING")))
	}
	if got := f.result(t, "r0"); got != approval.ResultAccepted {
		t.Fatalf("before processing: %s", got)
	}
	if _, err := f.svc.Get(f.ctx, f.users["E100"], approval.Key(f.source, "t0")); err == nil {
		t.Fatal("the task exists before the event was processed")
	}
	// The process stops before its worker ran: what it was handed in memory is gone. The next
	// process finds the events in the database.
	after := f.replica("after-restart")
	n, err := after.ProcessEvents(f.ctx)
	if err != nil || n != 3 {
		t.Fatalf("after the restart: %d processed, %v", n, err)
	}
	for i := range 3 {
		if got := f.result(t, fmt.Sprint("r", i)); got != approval.ResultApplied {
			t.Errorf("event r%d: %s", i, got)
		}
		if _, err := f.svc.Get(f.ctx, f.users["E100"], approval.Key(f.source, fmt.Sprint("t", i))); err != nil {
			t.Errorf("task t%d: %v", i, err)
		}
	}
	if got := len(f.pusher.to(f.users["E100"].UserID, false)); got != 3 {
		t.Errorf("%d pushes, want one per task", got)
	}
	t.Run("a redelivery of an accepted event is a duplicate and processed once", func(t *testing.T) {
		body, _ := json.Marshal(taskEvent(approval.EventTaskCreated, instance("i0", 1, "PENDING"), task("t0", "E100", 1, "PENDING")))
		res, err := after.Ingest(f.ctx, f.source, signed("r0", f.clock.Now(), body, f.secret), body)
		if err != nil || res.Result != approval.ResultDuplicate {
			t.Fatalf("%+v %v", res, err)
		}
		if n, err := after.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("%d processed, %v", n, err)
		}
	})
}

func TestVersionsWinInAnyProcessingOrder(t *testing.T) {
	// All versions wait, then one pass applies them at once (eventWorkers in parallel), in
	// whatever order the workers reach them.
	for _, order := range [][]int{{1, 2, 3}, {3, 2, 1}, {2, 3, 1}, {3, 1, 2}} {
		t.Run(fmt.Sprint("keeps the newest of versions accepted in order ", order), func(t *testing.T) {
			f := newFixture(t)
			approvers := map[int]string{1: "E100", 2: "E200", 3: "E100"}
			for _, v := range order {
				inst := instance("i1", int64(v), "PENDING")
				inst["title"] = fmt.Sprint("title v", v)
				f.accept(t, f.svc, fmt.Sprint("v", v), taskEvent(approval.EventTaskUpdated, inst, task("t1", approvers[v], int64(v), "PENDING")))
			}
			if n, err := f.svc.ProcessEvents(f.ctx); err != nil || n != 3 {
				t.Fatalf("%d processed, %v", n, err)
			}
			d, err := f.svc.Get(f.ctx, f.users["E100"], approval.Key(f.source, "t1"))
			if err != nil || d.Version != 3 || d.Title != "title v3" {
				t.Fatalf("task after %v: %+v %v", order, d, err)
			}
			if f.result(t, "v3") != approval.ResultApplied {
				t.Errorf("v3: %s", f.result(t, "v3"))
			}
		})
	}
}

func TestReplicasShareTheEventWorker(t *testing.T) {
	f := newFixture(t)
	a, b := f.replica("a"), f.replica("b")
	const perReplica = 20
	for i := range perReplica {
		for _, r := range []struct {
			name string
			svc  *approval.Service
		}{{"a", a}, {"b", b}} {
			id := fmt.Sprintf("%s%d", r.name, i)
			f.accept(t, r.svc, id, taskEvent(approval.EventTaskCreated, instance("i-"+id, 1, "PENDING"), task("t-"+id, "E100", 1, "PENDING")))
		}
	}
	var (
		wg     sync.WaitGroup
		counts [2]int
	)
	for k, svc := range []*approval.Service{a, b} {
		wg.Go(func() {
			for range 5 {
				n, err := svc.ProcessEvents(f.ctx)
				if err != nil {
					t.Error(err)
				}
				counts[k] += n
			}
		})
	}
	wg.Wait()
	if counts[0]+counts[1] != 2*perReplica || (counts[0] != 0 && counts[1] != 0) {
		t.Fatalf("processed by a: %d, by b: %d; want %d by the one lease holder", counts[0], counts[1], 2*perReplica)
	}
	for i := range perReplica {
		for _, r := range []string{"a", "b"} {
			if got := f.result(t, fmt.Sprintf("%s%d", r, i)); got != approval.ResultApplied {
				t.Errorf("event %s%d: %s (processed twice?)", r, i, got)
			}
		}
	}

	t.Run("when the holder stops, another replica takes over at the next window", func(t *testing.T) {
		holder, other := a, b
		if counts[0] == 0 {
			holder, other = b, a
		}
		f.accept(t, holder, "late", taskEvent(approval.EventTaskCreated, instance("i-late", 1, "PENDING"), task("t-late", "E100", 1, "PENDING")))
		if n, err := other.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("within the holder's window: %d, %v", n, err)
		}
		f.clock.Advance(approval.EventLeaseWindow)
		if n, err := other.ProcessEvents(f.ctx); err != nil || n != 1 {
			t.Fatalf("next window: %d, %v", n, err)
		}
		if got := f.result(t, "late"); got != approval.ResultApplied {
			t.Fatalf("late: %s", got)
		}
	})
	t.Run("the holder applies at its next pass what another replica accepted", func(t *testing.T) {
		// The other replica hands its accepts to its own worker, which holds no lease: the
		// holder finds them by scanning. On a FerretDB that replicas share it scanned once a
		// minute, as on the embedded database, so such an event waited up to a minute.
		f.clock.Advance(approval.EventLeaseWindow)
		holder, other := f.sharedReplica(t, "c"), f.sharedReplica(t, "d")
		if n, err := holder.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("the holder's first pass of the window: %d, %v", n, err)
		}
		if n, err := holder.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("the holder's second pass of the window: %d, %v", n, err) // scanned: not fresh
		}
		f.accept(t, other, "elsewhere", taskEvent(approval.EventTaskCreated, instance("i-elsewhere", 1, "PENDING"), task("t-elsewhere", "E100", 1, "PENDING")))
		if n, err := other.ProcessEvents(f.ctx); err != nil || n != 0 {
			t.Fatalf("the replica without the lease: %d, %v", n, err)
		}
		if n, err := holder.ProcessEvents(f.ctx); err != nil || n != 1 {
			t.Fatalf("the holder's next pass: %d, %v; want the event another replica accepted", n, err)
		}
	})
}
