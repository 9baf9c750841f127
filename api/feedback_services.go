package api

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/feedback"
)

// Feedback is field feedback (feedback.Service): the app writes feedback through sync; these are
// the REST reads, "me too", attachment downloads and the ops triage. Every method returns
// unauthorized without a principal and unavailable when the database cannot be reached; the
// user methods return not_found for feedback the caller may not see.
type Feedback interface {
	// Mine lists the caller's own and shared-with-them feedback; invalid (field limit or
	// cursor) for bad paging.
	Mine(ctx context.Context, p *auth.Principal, limit int, cursor string) ([]feedback.Feedback, string, error)
	// Get returns one feedback with its comments and attachments.
	Get(ctx context.Context, p *auth.Principal, id string) (*feedback.Feedback, error)
	// MeToo adds or withdraws the caller's "me too"; forbidden on their own feedback.
	MeToo(ctx context.Context, p *auth.Principal, id string, on bool) (*feedback.Feedback, error)
	// AttachmentURL returns a presigned download URL and its expiry; not_found for an
	// attachment the caller may not see or without content yet.
	AttachmentURL(ctx context.Context, p *auth.Principal, id string) (*url.URL, time.Time, error)

	// The ops methods return forbidden unless the actor is ops or admin.

	// List returns a page of feedback matching the filter; invalid (with the parameter) for a
	// bad filter, limit or cursor.
	List(ctx context.Context, actor *auth.Principal, f feedback.Filter) ([]feedback.Feedback, string, error)
	// OpsGet returns one feedback with comments and attachments; not_found for an unknown id.
	OpsGet(ctx context.Context, actor *auth.Principal, id string) (*feedback.Feedback, error)
	// Update returns invalid for a bad value or assignee and conflict for a transition the
	// workflow does not allow.
	Update(ctx context.Context, actor *auth.Principal, id string, in feedback.Update) (*feedback.Feedback, error)
	// Merge returns invalid (field into) for merging into itself or an unknown id and conflict
	// when either is a duplicate already.
	Merge(ctx context.Context, actor *auth.Principal, id, into string) (*feedback.Feedback, error)
	// Reply returns invalid (field text) for bad text.
	Reply(ctx context.Context, actor *auth.Principal, id, text string) (*feedback.Comment, error)
	// Export returns the function that streams the CSV follow-up table; invalid for a bad
	// filter.
	Export(ctx context.Context, actor *auth.Principal, f feedback.Filter) (func(ctx context.Context, w io.Writer) error, error)
	// Loop returns the feedback loop metrics for feedback received over a range of UTC days;
	// invalid (field from or to) for a bad range.
	Loop(ctx context.Context, actor *auth.Principal, from, to string) (*feedback.LoopStats, error)
}

var _ Feedback = (*feedback.Service)(nil)
