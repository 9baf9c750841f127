package approval

import (
	"context"
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// Sync table names and the app schema version that added them.
const (
	SyncTableName          = "approvals"
	DecisionsSyncTableName = "approval_decisions"
	// SyncSchemaVersion is the app schema that added both tables (schema 2 added announcements).
	SyncSchemaVersion = 3
)

// SyncRecord is a task as the approvals table carries it: read-only, the approver's current
// and past tasks with what the detail screen shows. Times are Unix milliseconds; lists are
// JSON-encoded strings (a WatermelonDB column holds no arrays).
type SyncRecord struct {
	ID                      string  `json:"id"`
	Source                  string  `json:"source"`
	FlowCode                string  `json:"flow_code"`
	FlowName                string  `json:"flow_name"`
	Title                   string  `json:"title"`
	NodeName                string  `json:"node_name"`
	NodeMode                string  `json:"node_mode"`
	Status                  string  `json:"status"`
	DelegatedFromEmployeeNo *string `json:"delegated_from_employee_no"`
	// Actions is the JSON of [{action, reason_required}], "[]" once the task is closed.
	Actions             string `json:"actions"`
	ApplicantName       string `json:"applicant_name"`
	ApplicantDepartment string `json:"applicant_department"`
	// Summary is the JSON of [{label, value}]; Attachments of [{name, url}].
	Summary     string `json:"summary"`
	Attachments string `json:"attachments"`
	DeepLink    string `json:"deep_link"`
	CreatedAt   int64  `json:"created_at"`
	DueAt       *int64 `json:"due_at"`
	DecidedAt   *int64 `json:"decided_at"`
	// Version is the task version: an offline decision names it (task_version), and is refused
	// if the task changed since.
	Version int64 `json:"version"`
}

// SyncTable returns the read-only approvals table. Register it with the engine that is the
// service's Sync.
func (s *Service) SyncTable() datasync.Table { return tasksTable{s} }

// DecisionsSyncTable returns the push-only approval_decisions table: an offline decision,
// applied when pushed.
func (s *Service) DecisionsSyncTable() datasync.Table { return decisionsTable{s} }

type tasksTable struct{ s *Service }

func (tasksTable) Name() string       { return SyncTableName }
func (tasksTable) SchemaVersion() int { return SyncSchemaVersion }

// Pull sends the user's tasks written after the cursor (all on a first sync) and, as deleted,
// the tasks that moved to someone else (reassigned on the OA side).
func (t tasksTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	user := q.User.UserID
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "approver_user_id", Value: user}}, bson.D{{Key: "former_user_ids", Value: user}}}}}
	if q.Since > 0 {
		filter = append(filter, bson.E{Key: "_seq", Value: bson.D{{Key: "$gt", Value: q.Since}}})
	}
	cur, err := t.s.coll(tasksColl).Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("pull approvals of %s: %w", user, mongodb.Translate(err, "task"))
	}
	var tasks []Task
	if err := cur.All(ctx, &tasks); err != nil {
		return fmt.Errorf("pull approvals of %s: %w", user, mongodb.Translate(err, "task"))
	}
	instances, err := t.s.instances(ctx, tasks)
	if err != nil {
		return err
	}
	for i := range tasks {
		task := &tasks[i]
		if task.ApproverUserID != user {
			if q.Since > 0 {
				if err := out.Deleted(task.ID); err != nil {
					return err
				}
			}
			continue
		}
		if err := out.Live(task.ID, task.syncRecord(instances[task.InstanceKey])); err != nil {
			return err
		}
	}
	return nil
}

// instances reads the instances of tasks, by key.
func (s *Service) instances(ctx context.Context, tasks []Task) (map[string]*Instance, error) {
	keys := bson.A{}
	for i := range tasks {
		keys = append(keys, tasks[i].InstanceKey)
	}
	out := map[string]*Instance{}
	if len(keys) == 0 {
		return out, nil
	}
	cur, err := s.coll(instancesColl).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", mongodb.Translate(err, "instance"))
	}
	var list []Instance
	if err := cur.All(ctx, &list); err != nil {
		return nil, fmt.Errorf("read instances: %w", mongodb.Translate(err, "instance"))
	}
	for i := range list {
		out[list[i].ID] = &list[i]
	}
	return out, nil
}

func (t *Task) syncRecord(in *Instance) SyncRecord {
	sum := t.summary()
	r := SyncRecord{ID: t.ID, Source: t.Source, FlowCode: t.FlowCode, FlowName: t.FlowName, Title: t.Title,
		NodeName: t.NodeName, NodeMode: t.NodeMode, Status: sum.Status, DelegatedFromEmployeeNo: sum.DelegatedFromEmployeeNo,
		Actions: encode(sum.Actions), Summary: "[]", Attachments: "[]", CreatedAt: t.CreatedAt.UnixMilli(), Version: t.Version}
	if in != nil {
		r.ApplicantName, r.ApplicantDepartment, r.DeepLink = in.ApplicantName, in.ApplicantDepartment, in.DeepLink
		r.Summary, r.Attachments = encode(nonNilFields(in.Summary)), encode(nonNilAttachments(in.Attachments))
	}
	if t.DueAt != nil {
		ms := t.DueAt.UnixMilli()
		r.DueAt = &ms
	}
	if t.DecidedAt != nil {
		ms := t.DecidedAt.UnixMilli()
		r.DecidedAt = &ms
	}
	return r
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// Push rejects every change: tasks are the OA's (decide through approval_decisions or REST).
func (tasksTable) Push(_ context.Context, _ *auth.Principal, _ int64, ch datasync.Changes) (datasync.Applied, error) {
	var a datasync.Applied
	forbidden := apperr.New(apperr.Forbidden, "approvals are read-only; decide by pushing an approval_decisions record")
	for _, raw := range append(append([]json.RawMessage{}, ch.Created...), ch.Updated...) {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw, forbidden))
	}
	for _, id := range ch.Deleted {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil, forbidden))
	}
	return a, nil
}

type decisionsTable struct{ s *Service }

func (decisionsTable) Name() string       { return DecisionsSyncTableName }
func (decisionsTable) SchemaVersion() int { return SyncSchemaVersion }

// Pull sends nothing: the outcome of a pushed decision shows in the approvals table (the task's
// status) or in the sync rejects.
func (decisionsTable) Pull(context.Context, datasync.Query, *datasync.TableWriter) error { return nil }

// decisionRecord is an offline decision. Its id (client-generated) is the idempotency key.
type decisionRecord struct {
	ID          string `json:"id"`
	TaskID      string `json:"task_id"`
	Action      string `json:"action"`
	Reason      string `json:"reason"`
	TaskVersion int64  `json:"task_version"`
}

// Push applies each created (or updated: the same record pushed again) decision as Decide does,
// with the record id as the idempotency key, and only if the task is still at task_version:
// a task withdrawn, transferred, decided elsewhere or changed since the device synced is
// rejected (conflict, with the reason), as is a second decision (conflict). Deleting a pushed
// decision is accepted as a no-op: a decision cannot be taken back, and the device may drop
// its copy.
func (t decisionsTable) Push(ctx context.Context, p *auth.Principal, _ int64, ch datasync.Changes) (datasync.Applied, error) {
	var a datasync.Applied
	for _, raw := range append(append([]json.RawMessage{}, ch.Created...), ch.Updated...) {
		var rec decisionRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw,
				apperr.Field("task_version", "a decision has task_id, action, reason and task_version (a number)")))
			continue
		}
		if rec.TaskVersion <= 0 {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw,
				apperr.Field("task_version", "task_version is required: the version of the task as synced")))
			continue
		}
		_, err := t.s.decide(ctx, p, rec.TaskID, DecisionInput{Action: rec.Action, Reason: rec.Reason, IdempotencyKey: rec.ID}, rec.TaskVersion)
		switch code := apperr.CodeOf(err); {
		case err == nil:
			a.Count++
		case code == apperr.Unavailable || code == apperr.Internal:
			return a, err
		case code == apperr.TaskClosed || code == apperr.AlreadyDecided:
			e, _ := apperr.As(err)
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw,
				&apperr.Error{Code: apperr.Conflict, Field: "task_id", Message: e.Message}))
		default:
			if e, ok := apperr.As(err); ok && e.Field == "" && code == apperr.NotFound {
				err = &apperr.Error{Code: apperr.NotFound, Field: "task_id", Message: e.Message}
			}
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw, err))
		}
	}
	for _, id := range ch.Deleted {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil, datasync.Gone("decision")))
	}
	return a, nil
}

// recordID returns the id of a raw pushed record (the engine checked it is a string).
func recordID(raw json.RawMessage) string {
	var rec struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &rec)
	return rec.ID
}
