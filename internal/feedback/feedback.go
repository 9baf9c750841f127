// Package feedback is field feedback that closes the loop: field staff write bug reports,
// suggestions, questions and incidents offline in the app; the records reach the server through
// the sync engine exactly once however often the app retries; ops triage them over REST (filter,
// assign, change status, merge duplicates, reply, export); and the status and replies flow back
// to the author's phone on the next pull, with a push for replies.
//
// Three sync tables are registered with the engine: "feedback", "feedback_comments" and
// "feedback_attachments". Every document is stamped with the engine's sequence number (see
// datasync.Meta) and carries audience keys: the author's user key, plus the app channel's key
// for feedback shared with a test channel's testers.
//
// Ownership is split by field: the author owns category, text, location and attachments, ops own
// status, assignee, resolution and duplicate_of. Pushes only ever write author-owned fields (ops
// fields in a pushed record are ignored), and ops endpoints only write ops fields, so an offline
// edit and an ops status change both survive in either order.
//
// Counts (me too, comments) are counted from their records, held in memory (counts.go), never
// stored as a counter field.
package feedback

import (
	"context"
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// Collections owned by the package. The first three are sync tables managed with the engine.
const (
	feedbackColl    = "feedback"
	commentsColl    = "feedback_comments"
	attachmentsColl = "feedback_attachments"
	meTooColl       = "feedback_me_too" // "<feedback id>/<user id>", one per user
	slotsColl       = "feedback_slots"  // "<feedback id>/<ops version>": who wrote it (claimSlot)
)

// Sync is the sync engine (datasync.Engine) as feedback uses it.
type Sync interface {
	// Write runs fn with a fresh sequence number and records what it touched; it returns fn's
	// error as is. fn may run again with a newer number, so it must be idempotent.
	Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error
	// Register adds a table; only before Start.
	Register(t datasync.Table)
}

// Pusher is the push engine (push.Engine).
type Pusher interface {
	// Enqueue records n for delivery once per Key; invalid for a bad notification,
	// unavailable when the database cannot be reached.
	Enqueue(ctx context.Context, n push.Notification) (id string, created bool, err error)
}

// Users reads the directory (directory.Users).
type Users interface {
	// Me returns a user's profile; not_found for an unknown id, unavailable when the directory
	// cannot be read.
	Me(ctx context.Context, userID string) (*directory.User, error)
	// Name returns a user's display name, from memory where the directory keeps it; not_found
	// for an unknown id, unavailable when the directory cannot be read.
	Name(ctx context.Context, userID string) (string, error)
}

// Grants tells which audience keys a user holds, including the channel keys granted to a test
// channel's testers (the sync engine's grants). The REST reads and comment pushes use it to show
// shared feedback to testers.
type Grants interface {
	// Keys returns every audience key p holds now; unavailable when they cannot be read.
	Keys(ctx context.Context, p *auth.Principal) ([]string, error)
}

// AppCatalog maps the app ids devices report to the catalogue's (updates.Service).
type AppCatalog interface {
	// CatalogID returns the catalogue id of the app that id (a catalogue id, Android package
	// name or iOS bundle id) names, or id itself when no app claims it.
	CatalogID(ctx context.Context, id string) string
}

// Service is field feedback. DB, Sync and Users are required; Push sends reply and status
// notifications (nil: none); Store serves and checks attachments; Grants shows shared feedback to
// testers over REST (nil: only through sync).
type Service struct {
	DB     *mongodb.DB
	Sync   Sync
	Users  Users
	Push   Pusher
	Store  media.Store
	Grants Grants
	// Apps maps reported app ids to catalogue ids (nil: stored as reported).
	Apps AppCatalog
	// Usage, when set, records feedback_created and feedback_resolved usage events.
	Usage UsageRecorder
	// Now is the clock; nil means time.Now.
	Now    clock.Func
	Logger *slog.Logger

	counts counts
	cache  feedbackCache
	// loop remembers recent loop numbers (see loopMemo).
	loop loopMemo
	// photos bounds the photos held in memory to strip their location (see stripLocation).
	photos photoGate
}

func (s *Service) coll(name string) *mongo.Collection { return s.DB.Collection(name) }

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// lockKey serializes the read-modify-writes of one feedback record and its children on the
// embedded database (a no-op on MongoDB, where the writes are conditional instead).
func lockKey(feedbackID string) string { return "feedback:" + feedbackID }

// Tables returns the sync tables to register with the engine.
func (s *Service) Tables() []datasync.Table {
	return []datasync.Table{feedbackTable{s}, commentsTable{s}, attachmentsTable{s}}
}

// Register registers the package's sync tables with the engine.
func (s *Service) Register() {
	for _, t := range s.Tables() {
		s.Sync.Register(t)
	}
}

// The tables keep tombstones until the engine's horizon; Engine.Purge deletes older ones.
var (
	_ datasync.Purger = feedbackTable{}
	_ datasync.Purger = commentsTable{}
	_ datasync.Purger = attachmentsTable{}
)

// PurgeTombstones implements datasync.Purger.
func (t feedbackTable) PurgeTombstones(ctx context.Context, beforeSeq int64) error {
	if err := datasync.PurgeTombstones(ctx, t.s.DB, feedbackColl, beforeSeq); err != nil {
		return err
	}
	t.s.cache.purge(beforeSeq)
	return nil
}

// PurgeTombstones implements datasync.Purger.
func (t commentsTable) PurgeTombstones(ctx context.Context, beforeSeq int64) error {
	return datasync.PurgeTombstones(ctx, t.s.DB, commentsColl, beforeSeq)
}

// PurgeTombstones implements datasync.Purger.
func (t attachmentsTable) PurgeTombstones(ctx context.Context, beforeSeq int64) error {
	return datasync.PurgeTombstones(ctx, t.s.DB, attachmentsColl, beforeSeq)
}
