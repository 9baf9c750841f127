package feedback

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// requireOps authorizes the triage methods: ops and admins.
func requireOps(p *auth.Principal) error { return auth.RequireRole(p, auth.RoleOps, auth.RoleAdmin) }

// Update is an ops change of feedback; nil fields stay as they are, an empty assignee_id or
// resolution clears it.
type Update struct {
	Status     *string `json:"status"`
	AssigneeID *string `json:"assignee_id"`
	Resolution *string `json:"resolution"`
}

// Update applies an ops change. It returns forbidden unless actor is ops or admin, not_found for
// an unknown or deleted id, invalid (with the field) for a bad value or an assignee who is not an
// active ops or admin user, and conflict for a status change the workflow does not allow (see
// canMove) or a concurrent change. A status change notifies the author.
func (s *Service) Update(ctx context.Context, actor *auth.Principal, id string, in Update) (*Feedback, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	var set bson.D
	if in.Status != nil && (!validStatus(*in.Status) || *in.Status == StatusDuplicate) {
		return nil, apperr.Field("status", "status must be one of new, acknowledged, in_progress, resolved, wont_fix (duplicate: use merge)")
	}
	if in.Resolution != nil {
		r := strings.TrimSpace(*in.Resolution)
		if utf8.RuneCountInString(r) > MaxResolutionRunes {
			return nil, apperr.Field("resolution", "resolution must be at most %d characters", MaxResolutionRunes)
		}
		set = append(set, bson.E{Key: "resolution", Value: r})
	}
	if in.AssigneeID != nil {
		if err := s.checkAssignee(ctx, *in.AssigneeID); err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "assignee_id", Value: *in.AssigneeID})
	}
	closed := false
	d, err := s.opsWrite(ctx, id, func(d *feedbackDoc) (bson.D, bool, error) {
		out := slices.Clone(set)
		closed = false
		if in.Status == nil || *in.Status == d.Status {
			return out, false, nil
		}
		if !canMove(d.Status, *in.Status) {
			return nil, false, apperr.New(apperr.Conflict, "feedback cannot move from %s to %s", d.Status, *in.Status)
		}
		closed = *in.Status == StatusResolved || *in.Status == StatusWontFix
		out = append(out, bson.E{Key: "status", Value: *in.Status})
		if d.Status == StatusDuplicate {
			out = append(out, bson.E{Key: "duplicate_of", Value: ""})
		}
		return out, true, nil
	})
	if err != nil {
		return nil, err
	}
	if closed {
		s.recordUsage(actor.UserID, actor.DeviceID, "feedback_resolved", map[string]string{"feedback_id": id, "status": d.Status})
	}
	f := s.view(d, actor)
	return &f, nil
}

// checkAssignee accepts "" (unassign) or an active user with role ops or admin.
func (s *Service) checkAssignee(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	u, err := s.Users.Me(ctx, id)
	if apperr.Is(err, apperr.NotFound) || (err == nil && (u.Status != directory.StatusActive ||
		!slices.ContainsFunc(u.Roles, func(r auth.Role) bool { return r == auth.RoleOps || r == auth.RoleAdmin }))) {
		return apperr.Field("assignee_id", "the assignee must be an active ops or admin user")
	}
	return err
}

// Merge marks feedback id a duplicate of into. The target keeps its own "me too"s and
// visibility. It returns invalid (field into) for merging into itself or into an unknown id,
// conflict when either is already a duplicate, and not_found for an unknown id.
func (s *Service) Merge(ctx context.Context, actor *auth.Principal, id, into string) (*Feedback, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	if into == id {
		return nil, apperr.Field("into", "feedback cannot be merged into itself")
	}
	target, err := s.liveFeedback(ctx, into)
	if apperr.Is(err, apperr.NotFound) || checkID("into", into) != nil {
		return nil, apperr.Field("into", "no feedback %q to merge into", into)
	}
	if err != nil {
		return nil, err
	}
	if target.Status == StatusDuplicate {
		return nil, apperr.New(apperr.Conflict, "%s is itself a duplicate of %s; merge into that one", into, target.DuplicateOf)
	}
	d, err := s.opsWrite(ctx, id, func(d *feedbackDoc) (bson.D, bool, error) {
		if d.Status == StatusDuplicate {
			return nil, false, apperr.New(apperr.Conflict, "feedback %s is already a duplicate of %s", id, d.DuplicateOf)
		}
		return bson.D{{Key: "status", Value: StatusDuplicate}, {Key: "duplicate_of", Value: into}}, true, nil
	})
	if err != nil {
		return nil, err
	}
	f := s.view(d, actor)
	return &f, nil
}

// opsWrite changes ops-owned fields of feedback id through the sync engine, so the author's next
// pull gets them. change computes the fields to set from the current document and whether the
// status changes (which notifies the author). The write is conditional on the ops version it
// read (atomic on MongoDB, under the record's lock on the embedded database); a token makes a
// rerun of the same write (engine lease) recognise that it already applied.
func (s *Service) opsWrite(ctx context.Context, id string, change func(d *feedbackDoc) (bson.D, bool, error)) (*feedbackDoc, error) {
	token := newID()
	var out *feedbackDoc
	notify := false
	err := s.Sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		unlock := s.DB.Lock(lockKey(id))
		defer unlock()
		d, err := s.liveFeedback(ctx, id)
		if err != nil {
			return nil, err
		}
		touch := []datasync.Touch{named(feedbackColl, d.Keys, id)}
		if d.OpsToken == token {
			if err := s.stamp(ctx, feedbackColl, id, seq); err != nil {
				return nil, err
			}
			d.Seq, d.UpdatedAt = max(d.Seq, seq), s.Now.Stored()
			s.cache.put(d)
			out = d
			return touch, nil
		}
		set, statusChanged, err := change(d)
		if err != nil || len(set) == 0 {
			out = d
			return nil, err
		}
		set = append(set, bson.E{Key: "ops_version", Value: d.OpsVersion + 1}, bson.E{Key: "ops_token", Value: token},
			bson.E{Key: "updated_by_ops_at", Value: s.Now.Stored().UnixMilli()}, bson.E{Key: "_updated_at", Value: s.Now.Stored()})
		if statusChanged {
			set = append(set, loopStamps(d, set, s.Now.Stored().UnixMilli())...)
		}
		if held, err := s.claimSlot(ctx, id, d.OpsVersion+1, token); err != nil || !held {
			if err == nil {
				err = apperr.New(apperr.Conflict, "the feedback was changed at the same time; reload it and try again")
			}
			return nil, err
		}
		res, err := s.coll(feedbackColl).UpdateOne(ctx, s.byID(id, bson.E{Key: "ops_version", Value: d.OpsVersion}),
			bson.D{{Key: "$set", Value: set}, {Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}}})
		if err != nil {
			s.releaseSlot(ctx, id, d.OpsVersion+1, token)
			return nil, fmt.Errorf("update feedback %s: %w", id, mongodb.Translate(err, "feedback"))
		}
		if res.MatchedCount == 0 {
			s.releaseSlot(ctx, id, d.OpsVersion+1, token)
			return nil, apperr.New(apperr.Conflict, "the feedback was changed at the same time; reload it and try again")
		}
		// The stored state, read back from the database (not from the copy this refreshes).
		out = new(feedbackDoc)
		if err := s.findByID(ctx, feedbackColl, id, "feedback", out); err != nil {
			return nil, err
		}
		s.cache.put(out)
		notify = statusChanged
		return touch, nil
	})
	if err != nil {
		return nil, err
	}
	if notify {
		s.notifyStatus(ctx, out)
	}
	return out, nil
}
