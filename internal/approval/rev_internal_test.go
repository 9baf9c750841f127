package approval

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// A task stored before revisions (no rev field) is replaced by a writer that read it, and not
// by one that read it before someone else's write.
func TestWriteTaskReplacesOnlyTheRevisionRead(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t)}
	legacy := bson.D{{Key: "_id", Value: "oa:t1"}, {Key: "task_id", Value: "t1"}, {Key: "version", Value: int64(1)}}
	if _, err := s.coll(tasksColl).InsertOne(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	read, err := s.readTask(ctx, "oa:t1")
	if err != nil || read == nil || read.Rev != "" {
		t.Fatalf("read %+v, %v", read, err)
	}
	first, second := *read, *read
	first.Title, second.Title = "first", "second"
	if err := s.writeTask(ctx, &first, read); err != nil {
		t.Fatalf("the first writer of a task without rev: %v", err)
	}
	if err := s.writeTask(ctx, &second, read); err != errTaskChanged {
		t.Fatalf("a writer that read the task before the first write: %v, want errTaskChanged", err)
	}
	got, err := s.readTask(ctx, "oa:t1")
	if err != nil || got.Title != "first" || got.Rev != first.Rev || got.Rev == "" {
		t.Fatalf("stored %+v, %v; want the first write", got, err)
	}
	again := *got
	again.Title = "third"
	if err := s.writeTask(ctx, &again, got); err != nil {
		t.Fatalf("a writer that read the newest revision: %v", err)
	}
}

type noPush struct{}

func (noPush) Enqueue(context.Context, push.Notification) (string, bool, error) {
	return "", false, nil
}

// The OA's next event read the task before the approver's decision closed it (on another
// replica, or on MongoDB, where DB.Lock does nothing): its write must not reopen the task. The
// event's write replaced the task whatever it held, and the decided task showed as pending.
func TestAnEventReadBeforeADecisionDoesNotReopenTheTask(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t), Push: noPush{}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v5 := &Task{ID: "oa:t1", TaskID: "t1", Status: StatusPending, InstanceStatus: StatusPending, Version: 5, ApproverUserID: "u1"}
	v5.Open = v5.open()
	if err := s.writeTask(ctx, v5, nil); err != nil {
		t.Fatal(err)
	}
	stale, err := s.readTask(ctx, "oa:t1") // the event's read
	if err != nil {
		t.Fatal(err)
	}
	d := &Decision{ID: "oa:t1", Action: ActionApprove, ByUserID: "u1", DecidedAt: now}
	if _, err := s.claimDecision(ctx, d); err != nil { // closeDecided closes for a stored decision only
		t.Fatal(err)
	}
	if err := s.closeDecided(ctx, d); err != nil {
		t.Fatal(err)
	}
	v6 := *stale
	v6.Version, v6.Title = 6, "renamed"
	if err := s.writeTask(ctx, &v6, stale); err != errTaskChanged {
		t.Fatalf("the event's write: %v, want errTaskChanged", err)
	}
	got, err := s.readTask(ctx, "oa:t1")
	if err != nil || got.DecidedAt == nil || got.Open {
		t.Fatalf("stored %+v, %v; want the decided task", got, err)
	}
}

// A task event applied while a withdraw of its instance is applied (16 events at once, or two
// replicas) got the instance as read before the withdraw: the task was written open, and the
// withdrawn request was back in the approver's list. The task now takes the instance as stored.
func TestATaskEventAfterAWithdrawStaysClosed(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t), Push: noPush{}}
	stale := &Instance{ID: "oa:i1", Source: "oa", InstanceID: "i1", Status: StatusPending, Version: 1}
	withdrawn := *stale
	withdrawn.Status, withdrawn.Version = StatusCanceled, 2
	if _, err := s.coll(instancesColl).InsertOne(ctx, &withdrawn); err != nil {
		t.Fatal(err)
	}
	in := &TaskPayload{ID: "t1", ApproverEmployeeNo: "E100", Status: StatusPending, Version: 1,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Actions: []Action{{Action: ActionApprove}}}
	if _, err := s.applyTask(ctx, stale, in, "u1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.readTask(ctx, "oa:t1")
	if err != nil || got == nil || got.Open || got.InstanceStatus != StatusCanceled {
		t.Fatalf("task %+v (%v): want closed, its instance withdrawn", got, err)
	}
}

// A decision whose task the OA closed between the approver's read and the decision's insert (on
// another replica, or on MongoDB, where DB.Lock does nothing) is taken back and answered
// task_closed. Before, it was accepted, and the OA got a callback for a withdrawn request.
func TestADecisionRacingAWithdrawIsTakenBack(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t), Push: noPush{}}
	writeOpenTask(t, s)
	s.beforeClaim = func() {
		read, err := s.readTask(ctx, "oa:t1")
		if err != nil {
			t.Error(err)
			return
		}
		closed := *read
		closed.InstanceStatus = StatusCanceled
		closed.Open = closed.open()
		if err := s.writeTask(ctx, &closed, read); err != nil {
			t.Error(err)
		}
	}
	_, err := s.decide(ctx, &auth.Principal{UserID: "u1"}, "oa:t1", DecisionInput{Action: ActionApprove, IdempotencyKey: "k1"}, 0)
	if !apperr.Is(err, apperr.TaskClosed) {
		t.Fatalf("decide = %v, want task_closed", err)
	}
	if d, err := s.decisionOf(ctx, "oa:t1"); err != nil || d != nil {
		t.Fatalf("decision %+v (%v): want none", d, err)
	}
	// Another attempt that read the decision before it was taken back closes nothing with it.
	gone := &Decision{ID: "oa:t1", Action: ActionApprove, ByUserID: "u1", Via: ViaMobile, IdempotencyKey: "k1",
		DecidedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.closeDecided(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if got, err := s.readTask(ctx, "oa:t1"); err != nil || got.DecidedAt != nil {
		t.Fatalf("task %+v (%v): marked decided by a decision taken back", got, err)
	}
}

// A decision stored by an attempt that failed before closing the task (a database error, the
// app not retrying) is closed by the next attempt, whatever its key. Before, only a retry with
// the same key closed it: other attempts got already_decided and the task stayed pending.
func TestAnotherAttemptClosesADecidedTask(t *testing.T) {
	ctx := context.Background()
	s := &Service{DB: testenv.Mongo(t), Push: noPush{}}
	writeOpenTask(t, s)
	first := &Decision{ID: "oa:t1", Source: "oa", TaskID: "t1", Action: ActionApprove, ByUserID: "u1", Via: ViaMobile,
		IdempotencyKey: "k1", DecidedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := s.claimDecision(ctx, first); err != nil { // stored; the close never ran
		t.Fatal(err)
	}
	_, err := s.decide(ctx, &auth.Principal{UserID: "u1"}, "oa:t1", DecisionInput{Action: ActionApprove, IdempotencyKey: "k2"}, 0)
	if !apperr.Is(err, apperr.AlreadyDecided) {
		t.Fatalf("decide = %v, want already_decided", err)
	}
	if got, err := s.readTask(ctx, "oa:t1"); err != nil || got.DecidedAt == nil || got.Open {
		t.Fatalf("task %+v (%v): want it closed as decided", got, err)
	}
}

// A decision made in the OA counts from the event's time, within the task's life: before, it
// counted from when mportal processed the event.
func TestOATime(t *testing.T) {
	created := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	now := created.Add(90 * 24 * time.Hour)
	for _, c := range []struct{ at, want time.Time }{
		{created.Add(time.Hour), created.Add(time.Hour)}, // history sent late: the OA's time
		{time.Time{}, now},                 // no timestamp
		{now.Add(time.Hour), now},          // a clock ahead
		{created.Add(-time.Hour), created}, // before the task existed
	} {
		if got := oaTime(c.at, created, now); !got.Equal(c.want) {
			t.Errorf("oaTime(%v) = %v, want %v", c.at, got, c.want)
		}
	}
}

// writeOpenTask stores oa:t1, open, held by u1 and approvable.
func writeOpenTask(t *testing.T, s *Service) {
	t.Helper()
	open := &Task{ID: "oa:t1", Source: "oa", TaskID: "t1", Status: StatusPending, InstanceStatus: StatusPending, Version: 1,
		ApproverUserID: "u1", Actions: []Action{{Action: ActionApprove}}}
	open.Open = open.open()
	if err := s.writeTask(context.Background(), open, nil); err != nil {
		t.Fatal(err)
	}
}

// Two decisions pushed through sync for a task whose lock the OA's event holds while it waits
// for a sync write of its own: the pushes must not hold the engine's groups while they wait for
// the lock. Before, each closed its task inside its push's write, the two took both groups, the
// event's write waited for one, and every sync write of the instance stopped.
func TestPushedDecisionsLeaveSyncWritesRunning(t *testing.T) {
	ctx := context.Background()
	db := testenv.Mongo(t)
	eng := &datasync.Engine{DB: db}
	s := &Service{DB: db, Push: noPush{}, Sync: eng}
	eng.Register(s.SyncTable())
	eng.Register(s.DecisionsSyncTable())
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	writeOpenTask(t, s)
	closing := make(chan struct{}, 2)
	s.beforeClose = func() { closing <- struct{}{} }
	unlock := s.DB.Lock("approval/task:oa:t1") // the OA's event, applying the task
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()

	p := &auth.Principal{UserID: "u1", DeviceID: "d1"}
	var pushes sync.WaitGroup
	for _, id := range []string{"decision-1", "decision-2"} {
		body, err := json.Marshal(map[string]any{"changes": map[string]any{DecisionsSyncTableName: map[string]any{
			"created": []any{map[string]any{"id": id, "task_id": "oa:t1", "action": ActionApprove, "reason": "", "task_version": 1}}}}})
		if err != nil {
			t.Fatal(err)
		}
		pushes.Go(func() {
			if _, err := eng.Push(ctx, p, 0, body); err != nil {
				t.Error(err)
			}
		})
	}
	for range 2 {
		select {
		case <-closing:
		case <-time.After(time.Minute):
			t.Fatal("the pushed decisions never went to close their task")
		}
	}
	// The event's write, while it holds the task's lock.
	wrote := make(chan error, 1)
	go func() {
		wrote <- s.write(ctx, func(context.Context, int64) ([]datasync.Touch, error) { return nil, nil })
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Error("a sync write still waits for a group: the pushed decisions hold both while they wait for the task's lock")
		unlock() // let everything finish
		locked = false
		<-wrote
	}
	if locked {
		unlock()
		locked = false
	}
	pushes.Wait()
	if got, err := s.readTask(ctx, "oa:t1"); err != nil || got.DecidedAt == nil || got.Open {
		t.Fatalf("task %+v (%v): want it closed as decided", got, err)
	}
}
