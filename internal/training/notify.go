package training

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// noticesColl records every required-training push sent: "<video>:<user>:assigned" when the
// user was told of the video, "<video>:<user>:<step>" for each reminder step. Inserting the
// document is the claim that makes each push happen once across replicas (the _id index).
const noticesColl = "training_notices"

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

// AudienceMembers lists the active users of an audience; directory.Recipients implements it.
type AudienceMembers interface {
	// Members returns the active users push.Audience reaches (a union of its criteria); it
	// returns unavailable when the directory cannot be read.
	Members(ctx context.Context, aud push.Audience) ([]directory.Member, error)
}

// Completions tells which users completed a video; the training_progress store implements it.
type Completions interface {
	// Completed returns the users among userIDs who completed videoID (absent means not
	// completed). It returns unavailable when the progress cannot be read.
	Completed(ctx context.Context, videoID string, userIDs []string) (map[string]bool, error)
}

var (
	_ Notifier        = (*push.Engine)(nil)
	_ PrefsReader     = (*push.PrefsStore)(nil)
	_ AudienceMembers = (*directory.Recipients)(nil)
)

// Step is one reminder of a required video: Offset from its due time (negative: before).
type Step struct {
	// Name identifies the step in the claim and the push data: "before_48h", "due",
	// "after_72h" (see StepsAt).
	Name   string
	Offset time.Duration
}

// DefaultOffsets are the reminders when none are configured: two days before the due time, on
// the due day (8 hours before the due time: a video due at 18:00 is reminded at 10:00), and
// three days after it for those who still have not watched it.
var DefaultOffsets = []time.Duration{-48 * time.Hour, -8 * time.Hour, 72 * time.Hour}

// StepsAt names reminder offsets (in increasing order) as steps: "before_48h", "due",
// "after_90m". Renaming a step would send it again, so names derive from the offsets only.
func StepsAt(offsets []time.Duration) []Step {
	steps := make([]Step, len(offsets))
	for i, d := range offsets {
		switch {
		case d < 0:
			steps[i] = Step{Name: "before_" + shortDuration(-d), Offset: d}
		case d == 0:
			steps[i] = Step{Name: "due", Offset: d}
		default:
			steps[i] = Step{Name: "after_" + shortDuration(d), Offset: d}
		}
	}
	return steps
}

// shortDuration writes d in whole hours when it is some ("48h"), else in minutes ("90m").
func shortDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
}

// Notices pushes required training: once to every user of a required video's audience when
// it becomes watchable (ready and published) or when the audience widens to include them, then
// the reminder Steps around its due time to those who have not completed it. Every replica may
// run it: each push is claimed first in noticesColl.
//
// DB, Push, Prefs and Members are required; without Completions nobody counts as completed;
// Now defaults to the wall clock.
type Notices struct {
	DB          *mongodb.DB
	Push        Notifier
	Prefs       PrefsReader
	Members     AudienceMembers
	Completions Completions
	// Zone gives a user's directory time zone, for quiet hours whose preferences name none.
	Zone func(ctx context.Context, userID string) (string, error)
	// Steps are the reminders, sorted by Offset; nil means StepsAt(DefaultOffsets).
	Steps []Step
	Now   clock.Func
	Log   *slog.Logger
}

func (n *Notices) log() *slog.Logger {
	if n.Log != nil {
		return n.Log
	}
	return slog.Default()
}

func (n *Notices) steps() []Step {
	if n.Steps != nil {
		return n.Steps
	}
	return StepsAt(DefaultOffsets)
}

// EnsureIndexes creates the notices' index (their video, for one read per video and pass).
func (n *Notices) EnsureIndexes(ctx context.Context) error {
	return mongodb.EnsureIndexes(ctx, n.DB.Collection(noticesColl),
		mongo.IndexModel{Keys: bson.D{{Key: "video_id", Value: 1}}})
}

// noticeDoc is a noticesColl document.
type noticeDoc struct {
	ID      string    `bson:"_id"`
	VideoID string    `bson:"video_id"`
	UserID  string    `bson:"user_id"`
	Step    string    `bson:"step"` // "assigned" or a Step's name
	At      time.Time `bson:"at"`
	// Pending is set from the claim until its push is enqueued (confirm). A claim still
	// pending after pendingGrace was left by an instance that died in between: the next pass
	// enqueues its push again, under the same key. Notices stored before it existed have none.
	Pending bool `bson:"pending,omitempty"`
}

// pendingGrace is how long a claim may wait for its push before another pass sends it: far more
// than a pass takes between a claim and its enqueue (500 inserts at most).
const pendingGrace = 5 * time.Minute

const stepAssigned = "assigned"

func noticeID(videoID, userID, step string) string { return videoID + ":" + userID + ":" + step }

// claim inserts d; false means it was sent already (by this or another replica).
func (n *Notices) claim(ctx context.Context, d noticeDoc) (bool, error) {
	_, err := n.DB.Collection(noticesColl).InsertOne(ctx, d)
	switch {
	case err == nil:
		return true, nil
	case mongodb.IsDuplicateKey(err):
		return false, nil
	}
	return false, fmt.Errorf("claim %s: %w", d.ID, mongodb.Translate(err, "notice"))
}

// unclaim gives claims back after their push could not be enqueued, so the next pass tries
// again.
func (n *Notices) unclaim(ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.DB.Collection(noticesColl).DeleteMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		n.log().Warn("training: give back notice claims", "ids", len(ids), "err", err)
	}
}

// confirm marks claims ids as enqueued. A failure is logged: the next pass then enqueues the
// push again, which its key makes a no-op.
func (n *Notices) confirm(ctx context.Context, ids []string) {
	for _, id := range ids { // by _id, the one filter FerretDB finds without a scan
		if _, err := n.DB.Collection(noticesColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "pending", Value: ""}}}}); err != nil {
			n.log().Warn("training: confirm notice", "id", id, "err", err)
			return
		}
	}
}

// notices reads the notices of a video.
func (n *Notices) notices(ctx context.Context, videoID string) ([]noticeDoc, error) {
	cur, err := n.DB.Collection(noticesColl).Find(ctx, bson.D{{Key: "video_id", Value: videoID}})
	if err != nil {
		return nil, fmt.Errorf("notices of %s: %w", videoID, mongodb.Translate(err, "notice"))
	}
	var docs []noticeDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("notices of %s: %w", videoID, mongodb.Translate(err, "notice"))
	}
	return docs, nil
}
