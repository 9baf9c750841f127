package approval

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// remindersColl records every reminder, escalation and digest sent. Its _id is the claim:
// "<task id>:<n>" for reminder n of a task, "<task id>:escalation", and
// "digest:<employee_no>:<local date>". Inserting it is what makes each one happen once across
// replicas.
const remindersColl = "approval_reminders"

// Notifier enqueues notifications; push.Engine implements it.
type Notifier interface {
	// Enqueue records n for delivery; the same Key twice delivers once.
	Enqueue(ctx context.Context, n push.Notification) (id string, created bool, err error)
}

// PrefsReader reads a user's push preferences (for their quiet hours); push.PrefsStore
// implements it.
type PrefsReader interface {
	Get(ctx context.Context, p *auth.Principal) (push.Prefs, error)
}

var (
	_ Notifier    = (*push.Engine)(nil)
	_ PrefsReader = (*push.PrefsStore)(nil)
)

// Reminders reminds approvers of their pending tasks under each flow's ReminderPolicy, sends a
// daily digest to approvers with several pending tasks, and escalates tasks pending too long.
// Every replica may run it: each notification is claimed first (remindersColl).
//
// DB, Push and Prefs are required; without Directory nothing is escalated; Now defaults to
// time.Now.
type Reminders struct {
	DB        *mongodb.DB
	Push      Notifier
	Prefs     PrefsReader
	Directory Directory
	// Zone, when set, gives a user's directory time zone, for quiet hours whose preferences
	// name none.
	Zone func(ctx context.Context, userID string) (string, error)
	Now  clock.Func
	Log  *slog.Logger
	// DigestHour is the approver's local hour from which the daily digest goes out (default 9).
	DigestHour int
	// DigestMin is how many pending tasks an approver needs for a digest (default 2).
	DigestMin int
}

func (r *Reminders) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// EnsureCollections creates the reminders' collections (see createCollections).
func (r *Reminders) EnsureCollections(ctx context.Context) error {
	return createCollections(ctx, r.DB, remindersColl, policiesColl)
}

// Sent counts what one pass sent.
type Sent struct {
	Reminders, Escalations, Digests int
}

// reminderDoc is a remindersColl document.
type reminderDoc struct {
	ID         string    `bson:"_id"`
	Kind       string    `bson:"kind"` // reminder, escalation, digest
	TaskID     string    `bson:"task_id,omitempty"`
	EmployeeNo string    `bson:"employee_no"`
	N          int       `bson:"n,omitempty"`
	At         time.Time `bson:"at"`
	// Pending is set by the claim and cleared once its notification is enqueued: a claim
	// still pending after claimGrace lost its enqueue (see send). Claims from before the field
	// existed lack it and are never taken over.
	Pending bool `bson:"pending,omitempty"`
}

// claimGrace is how long a claim may stay pending before another pass takes it over: the time
// a replica takes from its claim to its enqueue, with a wide margin.
const claimGrace = 10 * time.Second

// claim inserts d; false means it was sent already (by this or another replica).
func (r *Reminders) claim(ctx context.Context, d reminderDoc) (bool, error) {
	_, err := r.DB.Collection(remindersColl).InsertOne(ctx, d)
	switch {
	case err == nil:
		return true, nil
	case mongodb.IsDuplicateKey(err):
		return false, nil
	}
	return false, fmt.Errorf("claim %s: %w", d.ID, mongodb.Translate(err, "reminder"))
}

// unclaim gives a claim back after the notification could not be enqueued, so the next pass
// tries again.
func (r *Reminders) unclaim(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.DB.Collection(remindersColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		r.log().Warn("approval: give back reminder claim", "id", id, "err", err)
	}
}

// send claims d and enqueues n; it reports whether this call sent it. A claim whose enqueue
// never happened (its replica was killed between the two, or the claim could not be given
// back) is taken over by a later pass that finds the notification still due once the claim
// has been pending for claimGrace: n's key makes the enqueue idempotent, so a replica that was
// merely slow delivers nothing twice. Before, such a claim stood for a notification never sent
// (the fault rig found reminders skipped without a fault in their turn).
func (r *Reminders) send(ctx context.Context, d reminderDoc, n push.Notification) (bool, error) {
	d.Pending = true
	won, err := r.claim(ctx, d)
	if err == nil && !won {
		won, err = r.takeOver(ctx, d.ID)
	}
	if err != nil || !won {
		return false, err
	}
	if _, _, err := r.Push.Enqueue(ctx, n); err != nil {
		r.unclaim(d.ID)
		return false, fmt.Errorf("enqueue %s: %w", d.ID, err)
	}
	// Best effort: a claim left pending is taken over later, which enqueues the same key.
	if _, err := r.DB.Collection(remindersColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}}}); err != nil {
		r.log().Warn("approval: confirm reminder claim", "id", d.ID, "err", mongodb.Translate(err, "reminder").Error())
	}
	return true, nil
}

// takeOver reports whether the existing claim id lost its enqueue: still pending claimGrace
// after it was made.
func (r *Reminders) takeOver(ctx context.Context, id string) (bool, error) {
	var cur reminderDoc
	err := r.DB.Collection(remindersColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
	switch {
	case mongodb.IsNotFound(err): // given back meanwhile: the next pass claims it
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read claim %s: %w", id, mongodb.Translate(err, "reminder"))
	}
	return cur.Pending && r.Now.Stored().Sub(cur.At) >= claimGrace, nil
}

func reminderID(taskID string, n int) string { return taskID + ":" + strconv.Itoa(n) }
