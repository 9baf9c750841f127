package api

import (
	"context"

	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

// Sync is the offline sync engine (datasync.Engine): WatermelonDB-compatible pull and push over
// the registered tables, and the records a push could not apply.
type Sync interface {
	// OpenPull prepares the caller's pull since lastPulledAt (0: first sync); the handler then
	// streams it. It returns invalid (field last_pulled_at) for a negative cursor and unavailable
	// when the database cannot be reached.
	OpenPull(ctx context.Context, p *auth.Principal, lastPulledAt int64) (*datasync.PullStream, error)
	// Push applies a push body. It returns invalid, naming the offending table and record in
	// its field, for a structurally malformed body (nothing is applied), and unavailable when the
	// database cannot be reached; records a table refuses are in the result, not errors.
	Push(ctx context.Context, p *auth.Principal, lastPulledAt int64, body []byte) (*datasync.PushResult, error)
	// Rejects lists the caller's rejected records.
	Rejects(ctx context.Context, p *auth.Principal) ([]datasync.Reject, error)
	// DismissReject deletes one of the caller's rejects; not_found for anyone else's.
	DismissReject(ctx context.Context, p *auth.Principal, id string) error
}

var _ Sync = (*datasync.Engine)(nil)
