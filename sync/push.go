package datasync

import (
	"context"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// PushResult is the answer to a push: how many records were applied and which were not.
type PushResult struct {
	Accepted int              `json:"accepted"`
	Rejected []RejectedRecord `json:"rejected"`
}

// RejectedRecord is a pushed record that was not applied. Code is the table's reason (invalid,
// forbidden, not_found, conflict) or unavailable: the server could not apply the record in time
// and the device pushes it again unchanged.
type RejectedRecord struct {
	Table  string      `json:"table"`
	ID     string      `json:"id"`
	Code   apperr.Code `json:"code"`
	Detail string      `json:"detail"`
	Field  string      `json:"field,omitempty"`
	// RejectID names the stored reject (see Rejects), for DismissReject. It is empty for the
	// records a push did not reach in its time (unavailable), which are not stored.
	RejectID string `json:"reject_id,omitempty"`
}

// Push applies p's pushed changes (body is the WatermelonDB push payload). A structurally
// malformed body is rejected whole with invalid (see DecodePush) and nothing is applied.
// Otherwise the records are applied in order (tables in registration order) in bounded writes,
// each with its own sequence number, that commit one after the other (see pushInChunks): a pull
// may see the first records of a push before the rest. Records a table cannot accept are
// stored as rejects and listed in the result while the rest is applied (a deleted id with no
// live record, see Gone, is accepted as a no-op); records the server
// could not apply in time are listed as unavailable, for the device to push again. Replaying a
// push creates nothing twice: tables insert under the client's id. lastPulledAt is the device's
// cursor; tables resolve conflicts by field ownership, not by cursor, so it is only checked for
// sanity. It returns unauthorized without a principal, invalid for a malformed body and
// unavailable when the database cannot be reached (the writes before the failure stay applied).
func (e *Engine) Push(ctx context.Context, p *auth.Principal, lastPulledAt int64, body []byte) (res *PushResult, err error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if lastPulledAt < 0 {
		return nil, apperr.Field("last_pulled_at", "last_pulled_at must be a timestamp of a previous pull, or 0")
	}
	changes, err := DecodePush(body, func(name string) bool { _, ok := e.table(name); return ok })
	if err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "push of %s", p.UserID)
	res = &PushResult{Rejected: []RejectedRecord{}}
	if err := e.pushInChunks(ctx, p, flatten(e.registered(), changes), res); err != nil {
		return nil, err
	}
	return res, nil
}
