// Package announce is company announcements: ops write them in Markdown for an audience, publish
// them now or at a set time with one push to the audience, and see who read and acknowledged
// them; employees list the announcements meant for them, read them and acknowledge important
// ones.
//
// Every state change that must happen once is a mongodb.Claim, because on the embedded
// FerretDB an insert with a unique _id is the only atomic write:
//   - "announce_publish" holds one document per published announcement; whoever inserts it
//     enqueues the push (the push Key "announcement:<id>:publish" guards a second time);
//   - "announce_withdraw" holds one document per withdrawn announcement;
//   - "announce_reminders" holds "<id>:<n>", the n-th reminder;
//   - "announce_reads" and "announce_acks" hold "<id>/<user id>" with the reader's department;
//   - "announce_idempotency" holds "<author>/<Idempotency-Key>": the first create with a key
//     claims it and the announcement id it names (see idempotency.go).
//
// The announcement documents are only changed by ops edits, each written over the revision
// (rev) it read, so that a stale edit on another instance cannot undo a newer one, and by the
// publisher, which writes a new rev over the one it pushes, so that an edit it overtook is
// refused rather than answered 2xx without being in the push. The few hundred announcements and
// their publish and withdraw claims are held in memory (see view.go): employee reads never
// query the database for them.
package announce

import (
	"context"
	"log/slog"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clock"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
)

// Collections owned by the package.
const (
	announcementsColl = "announcements"
	publishColl       = "announce_publish"
	withdrawColl      = "announce_withdraw"
	remindersColl     = "announce_reminders"
	readsColl         = "announce_reads"
	acksColl          = "announce_acks"
	idempotencyColl   = "announce_idempotency"
)

// Importance of an announcement; important ones ask each reader to acknowledge them.
const (
	Normal    = "normal"
	Important = "important"
)

// Status of an announcement as ops see it.
const (
	StatusScheduled = "scheduled" // publish_at is in the future
	StatusPublished = "published" // visible to its audience
	StatusExpired   = "expired"   // published, but past expires_at
	StatusWithdrawn = "withdrawn" // taken down by ops
)

// Pusher is the push engine (push.Engine).
type Pusher interface {
	// Enqueue records n for delivery once per Key; invalid for a bad notification,
	// unavailable when the database cannot be reached.
	Enqueue(ctx context.Context, n push.Notification) (id string, created bool, err error)
}

// Members reads audiences from the directory (directory.Recipients).
type Members interface {
	// Members lists the active users an audience reaches; unavailable when the directory
	// cannot be read.
	Members(ctx context.Context, aud push.Audience) ([]directory.Member, error)
	// UserChannels lists the release channels of the user's devices; unavailable when the
	// directory cannot be read.
	UserChannels(ctx context.Context, userID string) ([]string, error)
}

// Service manages announcements. DB, Push and Members are required; Images is needed for
// cover images and the image endpoints.
type Service struct {
	DB      *mongodb.DB
	Push    Pusher
	Members Members
	Images  media.Store
	// Usage, when set, records announcement reads and acknowledgements.
	Usage UsageRecorder
	// Now is the clock; nil means time.Now.
	Now    clock.Func
	Logger *slog.Logger
	// Sync, when set, stamps publications, edits and withdrawals so that the announcements
	// table syncs (see SyncTable).
	Sync Sync

	view      view
	presigned presignCache
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// requireOps authorizes the content-management methods.
func requireOps(p *auth.Principal) error { return auth.RequireRole(p, auth.RoleOps) }
