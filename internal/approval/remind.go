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
}

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

// send claims d and enqueues n; it reports whether this call sent it.
func (r *Reminders) send(ctx context.Context, d reminderDoc, n push.Notification) (bool, error) {
	won, err := r.claim(ctx, d)
	if err != nil || !won {
		return false, err
	}
	if _, _, err := r.Push.Enqueue(ctx, n); err != nil {
		r.unclaim(d.ID)
		return false, fmt.Errorf("enqueue %s: %w", d.ID, err)
	}
	return true, nil
}

func reminderID(taskID string, n int) string { return taskID + ":" + strconv.Itoa(n) }
