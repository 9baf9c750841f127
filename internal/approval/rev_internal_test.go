package approval

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
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
	if err := s.closeDecided(ctx, &Decision{ID: "oa:t1", Action: ActionApprove, ByUserID: "u1", DecidedAt: now}); err != nil {
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
