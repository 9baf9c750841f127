package datasync

import (
	"context"
	"fmt"
	"slices"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// PushResult is the answer to a push: how many records were applied and which were not.
type PushResult struct {
	Accepted int              `json:"accepted"`
	Rejected []RejectedRecord `json:"rejected"`
}

// RejectedRecord is a pushed record that was not applied; it is also stored (see Rejects).
type RejectedRecord struct {
	Table  string      `json:"table"`
	ID     string      `json:"id"`
	Code   apperr.Code `json:"code"`
	Detail string      `json:"detail"`
	Field  string      `json:"field,omitempty"`
	// RejectID names the stored reject, for DismissReject.
	RejectID string `json:"reject_id"`
}

// Push applies p's pushed changes (body is the WatermelonDB push payload). A structurally
// malformed body is rejected whole with invalid (see DecodePush) and nothing is applied.
// Otherwise every table's changes are applied in one Write (one sequence number per push), in
// registration order; records a table cannot accept are stored as rejects and listed in the
// result while the rest is applied; a deleted id with no live record (see Gone) is accepted as a
// no-op. Replaying a push creates nothing twice: tables insert under the client's id.
// lastPulledAt is the device's cursor; tables resolve conflicts by field ownership, not by
// cursor, so it is only checked for sanity. It returns unauthorized without a
// principal, invalid for a malformed body and unavailable when the database cannot be reached.
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
	total := 0
	for _, ch := range changes {
		total += ch.Len()
	}
	if total == 0 {
		return res, nil
	}
	var rejected []storedReject
	err = e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		// A rerun after an expired lease starts over: only the last run's outcome counts.
		res.Accepted, rejected = 0, rejected[:0]
		var touches []Touch
		for _, t := range e.registered() {
			ch, ok := changes[t.Name()]
			if !ok || ch.Len() == 0 {
				continue
			}
			applied, err := t.Push(ctx, p, seq, ch)
			touches = append(touches, applied.Touches...)
			if err != nil {
				return touches, fmt.Errorf("push %s: %w", t.Name(), err)
			}
			res.Accepted += applied.Count
			for _, r := range applied.Rejected {
				if r.gone && slices.Contains(ch.Deleted, r.ID) {
					res.Accepted++ // deleting what is not there is done already (see Gone)
					continue
				}
				rejected = append(rejected, e.newReject(p.UserID, t.Name(), r))
			}
		}
		return touches, nil
	})
	if err != nil {
		return nil, err
	}
	if err := e.storeRejects(ctx, rejected); err != nil {
		return nil, err
	}
	for _, r := range rejected {
		res.Rejected = append(res.Rejected, RejectedRecord{Table: r.Table, ID: r.RecordID, Code: r.Code,
			Detail: r.Detail, Field: r.Field, RejectID: r.ID})
	}
	return res, nil
}
