package approval

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// ListFilter narrows the approver's list; empty fields do not filter.
type ListFilter struct {
	// Status is pending or done.
	Status string
	// Flow is a flow code, Source an integration.
	Flow, Source string
	Limit        int
	Cursor       string
}

// List returns one page of p's tasks, pending first, then done, newest first within each, and
// the next page's cursor ("" on the last). It returns invalid naming status, limit or cursor,
// and unavailable.
func (s *Service) List(ctx context.Context, p *auth.Principal, f ListFilter) ([]Summary, string, error) {
	if p == nil {
		return nil, "", apperr.New(apperr.Unauthorized, "authentication required")
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 0 || limit > MaxLimit {
		return nil, "", apperr.Field("limit", "limit must be 1 to %d", MaxLimit)
	}
	var open *bool
	if f.Status != "" {
		o, ok := statusFilter(f.Status)
		if !ok {
			return nil, "", apperr.Field("status", "status must be pending or done")
		}
		open = &o
	}
	var after *position
	if f.Cursor != "" {
		pos, err := parseCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &pos
	}
	var tasks []Task
	if s.ListInMemory {
		if err := s.view.load(ctx, s); err != nil {
			return nil, "", err
		}
		tasks = s.view.page(p.UserID, func(t *Task) bool {
			return (open == nil || t.Open == *open) && (f.Flow == "" || t.FlowCode == f.Flow) &&
				(f.Source == "" || t.Source == f.Source) && (after == nil || after.before(t))
		}, limit+1)
	} else {
		filter := bson.D{{Key: "approver_user_id", Value: p.UserID}}
		if open != nil {
			filter = append(filter, bson.E{Key: "open", Value: *open})
		}
		if f.Flow != "" {
			filter = append(filter, bson.E{Key: "flow_code", Value: f.Flow})
		}
		if f.Source != "" {
			filter = append(filter, bson.E{Key: "source", Value: f.Source})
		}
		if after != nil {
			filter = append(filter, after.filter())
		}
		opts := options.Find().SetLimit(int64(limit) + 1).SetSort(bson.D{
			{Key: "open", Value: -1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}})
		cur, err := s.coll(tasksColl).Find(ctx, filter, opts)
		if err == nil {
			err = cur.All(ctx, &tasks)
		}
		if err != nil {
			return nil, "", fmt.Errorf("list approvals of %s: %w", p.UserID, mongodb.Translate(err, "task"))
		}
	}
	next := ""
	if len(tasks) > limit {
		tasks = tasks[:limit]
		last := tasks[limit-1]
		next = formatCursor(last.Open, last.CreatedAt, last.ID)
	}
	out := make([]Summary, len(tasks))
	for i := range tasks {
		out[i] = tasks[i].summary()
	}
	return out, next, nil
}

// A cursor is base64url("<1|0>|<created_at ms>|<task id>") of the last task of a page.
func formatCursor(open bool, created time.Time, id string) string {
	o := "0"
	if open {
		o = "1"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(o + "|" + strconv.FormatInt(created.UnixMilli(), 10) + "|" + id))
}

// position is a cursor: the last task of the previous page.
type position struct {
	open    bool
	created time.Time
	id      string
}

func parseCursor(c string) (position, error) {
	bad := apperr.Field("cursor", "cursor is not one this list returned")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return position{}, bad
	}
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || (parts[0] != "0" && parts[0] != "1") {
		return position{}, bad
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return position{}, bad
	}
	return position{open: parts[0] == "1", created: time.UnixMilli(ms).UTC(), id: parts[2]}, nil
}

// before reports whether t comes after the position in list order.
func (pos position) before(t *Task) bool {
	return compareListOrder(Task{Open: pos.open, CreatedAt: pos.created, ID: pos.id}, *t) < 0
}

// filter selects the tasks after the position in list order.
func (pos position) filter() bson.E {
	sameTime := bson.D{{Key: "open", Value: pos.open}, {Key: "created_at", Value: pos.created}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: pos.id}}}}
	earlier := bson.D{{Key: "open", Value: pos.open}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: pos.created}}}}
	or := bson.A{earlier, sameTime}
	if pos.open {
		or = append(or, bson.D{{Key: "open", Value: false}})
	}
	return bson.E{Key: "$or", Value: or}
}

// Get returns p's task taskID with its instance and decision. It returns not_found unless the
// task is p's (ops and admins included), and unavailable.
func (s *Service) Get(ctx context.Context, p *auth.Principal, taskID string) (*Detail, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	t, err := s.readTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if t == nil || t.ApproverUserID != p.UserID {
		return nil, apperr.New(apperr.NotFound, "approval task not found")
	}
	in, err := s.readInstance(ctx, t.InstanceKey)
	if err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fmt.Errorf("task %s has no instance %s", t.ID, t.InstanceKey)
	}
	d := &Detail{Summary: t.summary(), NodeID: t.NodeID, InstanceID: t.InstanceID,
		ApplicantEmployeeNo: in.ApplicantEmployeeNo, ApplicantName: in.ApplicantName,
		ApplicantDepartment: in.ApplicantDepartment, Fields: nonNilFields(in.Summary),
		Attachments: nonNilAttachments(in.Attachments), DeepLink: in.DeepLink}
	dec, err := s.decisionOf(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if dec != nil {
		d.Decision = dec.view()
	}
	return d, nil
}
