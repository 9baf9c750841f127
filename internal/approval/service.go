// Package approval is mportal's front door to the company's OA (workflow) systems: OA
// integrations send signed events about approval instances and tasks (Ingest), approvers see
// their tasks on the phone (List, Get, the approvals sync table) and decide each exactly once
// (Decide, or offline through the approval_decisions sync table), and may hand their new tasks
// to a delegate for a while (SetDelegation). The package owns every approval_* collection; see
// model.go for the documents and README.md for the design.
package approval

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// Directory resolves employees. directory.Users implements it.
type Directory interface {
	// ActiveUsersByEmployeeNo returns the active users among employeeNos, by employee number
	// (as given); numbers with no active user are absent. It returns unavailable when the
	// directory cannot be read.
	ActiveUsersByEmployeeNo(ctx context.Context, employeeNos []string) (map[string]string, error)
}

// Pusher is the push engine (push.Engine) as approvals use it.
type Pusher interface {
	// Enqueue records n for delivery once per Key; invalid for a bad notification,
	// unavailable when the outbox cannot be written.
	Enqueue(ctx context.Context, n push.Notification) (id string, created bool, err error)
}

// Sync is the sync engine (datasync.Engine) as approvals use it.
type Sync interface {
	// Write runs fn with a fresh sequence number; it returns fn's error as is and unavailable
	// when the sequence cannot be allocated.
	Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error
}

// Service is the approvals service. DB, Directory and Push are required; Sync makes the
// approvals table sync (nil leaves it unsynced); Now is the clock (nil means time.Now).
type Service struct {
	DB        *mongodb.DB
	Directory Directory
	Push      Pusher
	Sync      Sync
	Now       clock.Func
	// Log receives the event worker's warnings (nil means slog.Default()).
	Log *slog.Logger
	// Usage, when set, records an approval_decided usage event per mobile decision.
	Usage UsageRecorder
	// Holder names this replica in the event worker's leases (random when empty).
	Holder string
	// ListInMemory serves the approver's list from memory (taskView): only for a database
	// this process alone writes (the embedded FerretDB, where a list query scans every task).
	// Replicas that share a database, FerretDB included, must list from it: each sees only its
	// own writes.
	ListInMemory bool

	// purged is when events were last purged (Unix ms): at most once a minute.
	purged atomic.Int64
	// queue hands accepted events to this process's event worker; procMu makes its passes one
	// at a time, and guards leaseStart (the window of the lease held) and scanned (the last scan
	// of the events collection).
	queue      eventQueue
	accept     acceptCache
	paused     atomic.Int32
	accepts    acceptRate
	procMu     sync.Mutex
	leaseStart time.Time
	scanned    time.Time
	holderOnce sync.Once
	// view serves the approver's list when ListInMemory (see taskView).
	view taskView
	// beforeClaim, when set (tests), runs just before a decision is inserted: what the OA's
	// events do on another replica meanwhile.
	beforeClaim func()
	// beforeClose, when set (tests), runs as closeDecided is about to take the task's lock.
	beforeClose func()
}

func (s *Service) coll(name string) *mongo.Collection { return s.DB.Collection(name) }

// now is the service's time as stored: UTC, millisecond precision.
// EnsureIndexes creates the indexes of the approval collections. The _id indexes carry the
// guarantees (one event per webhook-id, one decision per task); these serve the approver's
// list (approver, open first, newest first), the sync pull, the instance fan-out, the event
// purge and the callback outbox's scan (state, next_at), which part C relies on.
func (s *Service) EnsureIndexes(ctx context.Context) error {
	steps := []struct {
		coll   string
		models []mongo.IndexModel
	}{
		{eventsColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "expires_at", Value: 1}}},
			{Keys: bson.D{{Key: "processed_at", Value: 1}, {Key: "received_at", Value: 1}}}, // the worker's scan
		}},
		{tasksColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "approver_user_id", Value: 1}, {Key: "open", Value: -1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}},
			{Keys: bson.D{{Key: "approver_user_id", Value: 1}, {Key: "_seq", Value: 1}}},
			{Keys: bson.D{{Key: "former_user_ids", Value: 1}, {Key: "_seq", Value: 1}}},
			{Keys: bson.D{{Key: "instance_key", Value: 1}}},
		}},
		{decisionsColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "callback.state", Value: 1}, {Key: "callback.next_at", Value: 1}}},
			{Keys: bson.D{{Key: "source", Value: 1}, {Key: "decided_at", Value: -1}}},
		}},
		{delegationsColl, []mongo.IndexModel{{Keys: bson.D{{Key: "delegate_user_id", Value: 1}}}}},
	}
	for _, name := range []string{integrationsColl, eventsColl, eventLeasesColl, instancesColl, tasksColl, decisionsColl, delegationsColl} {
		// Every collection exists before the embedded database's _id indexes are added at start
		// (embedded.EnsureIDIndexes): one created later by its first insert would have its _id
		// lookups scan the table until the next start.
		if err := s.DB.DB.CreateCollection(ctx, name); err != nil && !mongodb.IsNamespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", name, mongodb.Translate(err, "collection"))
		}
	}
	for _, st := range steps {
		if err := mongodb.EnsureIndexes(ctx, s.coll(st.coll), st.models...); err != nil {
			return err
		}
	}
	return nil
}
