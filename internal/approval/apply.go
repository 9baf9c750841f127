package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// Versions: every instance and task carries the OA's version, and a write only replaces a
// document whose stored version is lower. Writers of one key are serialized by DB.Lock (the
// embedded FerretDB's updates are not atomic), and the replace is filtered on what was read
// (an instance's version, a task's rev: see writeTask), so on MongoDB, across replicas, a
// concurrent write makes ours match nothing and we read again. An event that is not newer
// changes nothing, whatever order events arrive in.

// apply writes an event's instance and task; changed reports whether anything was newer.
func (s *Service) apply(ctx context.Context, source string, p *Payload, approvers map[string]string) (bool, error) {
	inst, changed, err := s.applyInstance(ctx, source, p.Data.Instance)
	if err != nil {
		return false, err
	}
	if p.Data.Task == nil {
		return changed, nil
	}
	taskChanged, err := s.applyTask(ctx, inst, p.Data.Task, approvers[p.Data.Task.ApproverEmployeeNo], p.Timestamp)
	if err != nil {
		return changed || taskChanged, err
	}
	// An instance event applied at the same time (a withdraw) may have looked for this task's
	// document before it was written, and so not closed it: read the instance again after the
	// write. Anything newer is copied onto the task now.
	if latest, err := s.readInstance(ctx, inst.ID); err != nil {
		return true, err
	} else if latest != nil && latest.Version > inst.Version {
		if err := s.refreshTask(ctx, Key(source, p.Data.Task.ID), latest); err != nil {
			return true, err
		}
	}
	return changed || taskChanged, nil
}

func (s *Service) readInstance(ctx context.Context, key string) (*Instance, error) {
	var in Instance
	err := s.coll(instancesColl).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&in)
	if mongodb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read instance %s: %w", key, mongodb.Translate(err, "instance"))
	}
	return &in, nil
}

// applyInstance stores in unless a version as new is stored, and returns the newest stored
// instance. When the status, title or flow changes, its tasks are updated too.
func (s *Service) applyInstance(ctx context.Context, source string, in *InstancePayload) (*Instance, bool, error) {
	key := Key(source, in.ID)
	defer s.DB.Lock("approval/instance:" + key)()
	for {
		cur, err := s.readInstance(ctx, key)
		if err != nil {
			return nil, false, err
		}
		if cur != nil && cur.Version >= in.Version {
			return cur, false, nil
		}
		doc := &Instance{ID: key, Source: source, InstanceID: in.ID, FlowCode: in.FlowCode, FlowName: in.FlowName,
			Title: in.Title, ApplicantEmployeeNo: in.Applicant.EmployeeNo, ApplicantName: in.Applicant.Name,
			ApplicantDepartment: in.Applicant.Department, Summary: nonNilFields(in.Summary),
			Attachments: nonNilAttachments(in.Attachments), DeepLink: in.DeepLink, Status: in.Status,
			Version: in.Version, UpdatedAt: s.Now.Stored()}
		var written bool
		if cur == nil {
			_, err = s.coll(instancesColl).InsertOne(ctx, doc)
			written = err == nil
			if mongodb.IsDuplicateKey(err) {
				continue // another replica inserted it first: compare with theirs
			}
		} else {
			var r *mongo.UpdateResult
			r, err = s.coll(instancesColl).ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "version", Value: cur.Version}}, doc)
			written = err == nil && r.MatchedCount == 1
		}
		if err != nil {
			return nil, false, fmt.Errorf("write instance %s: %w", key, mongodb.Translate(err, "instance"))
		}
		if !written {
			continue
		}
		if cur != nil && (cur.Status != doc.Status || cur.Title != doc.Title || cur.FlowName != doc.FlowName) {
			if err := s.refreshTasks(ctx, doc); err != nil {
				return nil, false, err
			}
		}
		return doc, true, nil
	}
}

// refreshTasks copies an instance's new status, title and flow name to its tasks; a task that
// closes (the instance was withdrawn, approved, rejected or terminated) has its notification
// withdrawn.
func (s *Service) refreshTasks(ctx context.Context, in *Instance) error {
	cur, err := s.coll(tasksColl).Find(ctx, bson.D{{Key: "instance_key", Value: in.ID}})
	if err != nil {
		return fmt.Errorf("read tasks of %s: %w", in.ID, mongodb.Translate(err, "task"))
	}
	var tasks []Task
	if err := cur.All(ctx, &tasks); err != nil {
		return fmt.Errorf("read tasks of %s: %w", in.ID, mongodb.Translate(err, "task"))
	}
	for i := range tasks {
		if err := s.refreshTask(ctx, tasks[i].ID, in); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) refreshTask(ctx context.Context, key string, in *Instance) error {
	defer s.DB.Lock("approval/task:" + key)()
	var t *Task
	var wasOpen bool
	for {
		read, err := s.readTask(ctx, key)
		if err != nil || read == nil {
			return err
		}
		c := *read
		t, wasOpen = &c, c.Open
		t.InstanceStatus, t.Title, t.FlowName = in.Status, in.Title, in.FlowName
		t.Open = t.open()
		t.UpdatedAt = s.Now.Stored()
		if err := s.writeTask(ctx, t, read); !errors.Is(err, errTaskChanged) {
			if err != nil {
				return err
			}
			break
		}
	}
	if wasOpen && !t.Open {
		return s.withdraw(ctx, t.ID, t.ApproverUserID, "instance-"+strings.ToLower(in.Status))
	}
	return nil
}

func (s *Service) readTask(ctx context.Context, key string) (*Task, error) {
	var t Task
	err := s.coll(tasksColl).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&t)
	if mongodb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read task %s: %w", key, mongodb.Translate(err, "task"))
	}
	return &t, nil
}

// open reports whether t can be decided.
func (t *Task) open() bool {
	return t.Status == StatusPending && t.InstanceStatus == StatusPending && t.DecidedAt == nil
}

// writeTask stores t in place of read, the task as its caller read it (nil: none was stored),
// and returns errTaskChanged, writing nothing, when the stored task is no longer read: another
// writer (the OA's next event, the approver's decision, on this replica or another) came in
// between, and the caller must read again and redo its change. Each write stamps the task
// with a new Rev, and the replace is filtered on the one read (or on its own, when the sync
// engine runs it again), which MongoDB applies atomically; on the embedded FerretDB, whose
// updates are not, callers hold the task's lock (DB.Lock), which also orders the view's puts.
func (s *Service) writeTask(ctx context.Context, t *Task, read *Task) error {
	var readRev any // a task stored before revisions has none: null matches it
	if read != nil && read.Rev != "" {
		readRev = read.Rev
	}
	t.Rev = bson.NewObjectID().Hex()
	err := s.write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		t.Seq = seq
		keys := []string{datasync.UserKey(t.ApproverUserID)}
		for _, u := range t.FormerUserIDs {
			keys = append(keys, datasync.UserKey(u))
		}
		touch := []datasync.Touch{{Table: SyncTableName, Keys: keys}}
		filter := bson.D{{Key: "_id", Value: t.ID}, {Key: "rev", Value: bson.D{{Key: "$in", Value: bson.A{readRev, t.Rev}}}}}
		if read == nil {
			_, err := s.coll(tasksColl).InsertOne(ctx, t)
			if err == nil {
				return touch, nil
			}
			if !mongodb.IsDuplicateKey(err) {
				return nil, fmt.Errorf("insert task %s: %w", t.ID, mongodb.Translate(err, "task"))
			}
			// Our own insert, when the sync engine runs the write again, or another writer's.
			filter = bson.D{{Key: "_id", Value: t.ID}, {Key: "rev", Value: t.Rev}}
		}
		r, err := s.coll(tasksColl).ReplaceOne(ctx, filter, t)
		if err != nil {
			return nil, fmt.Errorf("write task %s: %w", t.ID, mongodb.Translate(err, "task"))
		}
		if r.MatchedCount == 0 {
			return nil, errTaskChanged
		}
		return touch, nil
	})
	if err == nil && s.ListInMemory {
		s.view.put(t)
	}
	return err
}

// errTaskChanged is writeTask's answer when the task changed since its caller read it.
var errTaskChanged = errors.New("the task changed since it was read")

// write runs fn through the sync engine, or with sequence number 0 without one.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	if s.Sync == nil {
		_, err := fn(ctx, 0)
		return err
	}
	return s.Sync.Write(ctx, fn)
}

// applyTask stores a task event unless a version as new is stored. The task goes to the
// approver the OA named or, when that approver has a delegation in force, to the delegate
// (DelegatedFrom names the approver); an update that keeps the OA's approver keeps the holder.
// A task that reaches a new holder while open is pushed to them, and one that closes or moves
// away has its notification withdrawn from its former holder.
func (s *Service) applyTask(ctx context.Context, inst *Instance, in *TaskPayload, approverID string, at time.Time) (bool, error) {
	key := Key(inst.Source, in.ID)
	defer s.DB.Lock("approval/task:" + key)()
	var cur, t *Task
	var reassigned bool
	for {
		var err error
		cur, err = s.readTask(ctx, key)
		if err != nil {
			return false, err
		}
		// The instance as stored now, under the task's lock: inst was read before it, and an
		// instance event (a withdraw) may have been applied since. Before, the task was written
		// with inst's older status, and a withdrawn request was open again.
		if latest, err := s.readInstance(ctx, inst.ID); err != nil {
			return false, err
		} else if latest != nil && latest.Version > inst.Version {
			inst = latest
		}
		if cur != nil && cur.Version >= in.Version {
			if cur.Version == in.Version && cur.Open && cur.PushedAt == nil {
				// Stored, but the push was not enqueued (a failure after the write): the
				// redelivered event finishes the job; the push key makes it once.
				return false, s.notifyTask(ctx, cur)
			}
			return false, nil
		}
		now := s.Now.Stored()
		t = &Task{ID: key, Source: inst.Source, TaskID: in.ID, InstanceKey: inst.ID, InstanceID: inst.InstanceID,
			FlowCode: inst.FlowCode, FlowName: inst.FlowName, Title: inst.Title, NodeID: in.NodeID, NodeName: in.NodeName,
			NodeMode: in.NodeMode, AssigneeEmployeeNo: in.ApproverEmployeeNo, Status: in.Status,
			InstanceStatus: inst.Status, CreatedAt: in.CreatedAt.UTC().Truncate(time.Millisecond), DueAt: storedTime(in.DueAt), Actions: in.Actions,
			ActionContext: in.ActionContext, Version: in.Version, ReceivedAt: now, UpdatedAt: now}
		reassigned = true
		if cur != nil {
			t.ReceivedAt, t.PushedAt, t.DecidedAt, t.DecidedAction = cur.ReceivedAt, cur.PushedAt, cur.DecidedAt, cur.DecidedAction
			t.FormerUserIDs = cur.FormerUserIDs
			if strings.EqualFold(cur.AssigneeEmployeeNo, in.ApproverEmployeeNo) {
				t.ApproverUserID, t.ApproverEmployeeNo, t.DelegatedFrom = cur.ApproverUserID, cur.ApproverEmployeeNo, cur.DelegatedFrom
				reassigned = false
			}
		}
		if reassigned {
			if err := s.assign(ctx, t, approverID, in.ApproverEmployeeNo, now); err != nil {
				return false, err
			}
			if cur != nil && cur.ApproverUserID == t.ApproverUserID {
				reassigned = false // the OA moved it between two people who both delegate to the same holder
			}
			if reassigned {
				t.PushedAt = nil
			}
		}
		if cur != nil && cur.ApproverUserID != t.ApproverUserID && !slices.Contains(t.FormerUserIDs, cur.ApproverUserID) {
			t.FormerUserIDs = append(t.FormerUserIDs, cur.ApproverUserID)
		}
		t.FormerUserIDs = slices.DeleteFunc(t.FormerUserIDs, func(u string) bool { return u == t.ApproverUserID })
		if t.DecidedAt == nil && (in.Status == StatusApproved || in.Status == StatusRejected) {
			if err := s.recordOASide(ctx, t, oaTime(at, t.CreatedAt, now)); err != nil {
				return false, err
			}
		}
		t.Open = t.open()
		if t.Open && t.PushedAt == nil {
			// Enqueued first so that pushed_at is part of the task's one write: should that write
			// fail, the event stays unprocessed, is applied again, and the push key keeps the push
			// from going out twice.
			if err := s.enqueueTaskPush(ctx, t); err != nil {
				return false, err
			}
		}
		switch err := s.writeTask(ctx, t, cur); {
		case errors.Is(err, errTaskChanged):
			continue // another writer came in between (a decision, another replica): read again
		case err != nil:
			return false, err
		}
		break
	}
	if cur != nil && cur.Open && (!t.Open || reassigned) {
		if err := s.withdraw(ctx, key, cur.ApproverUserID, "v"+fmt.Sprint(t.Version)); err != nil {
			return true, err
		}
	}
	return true, nil
}

// assign gives t to the OA's approver, or to their delegate while a delegation is in force.
func (s *Service) assign(ctx context.Context, t *Task, userID, employeeNo string, now time.Time) error {
	t.ApproverUserID, t.ApproverEmployeeNo, t.DelegatedFrom = userID, employeeNo, nil
	d, err := s.delegation(ctx, userID)
	if err != nil || d == nil || !d.covers(now) {
		return err
	}
	// The delegate must still be an active user with that number: one disabled since the
	// delegation was set received the tasks for the rest of its term, and nobody saw them.
	active, err := s.Directory.ActiveUsersByEmployeeNo(ctx, []string{d.DelegateEmployeeNo})
	if err != nil {
		return err
	}
	if active[d.DelegateEmployeeNo] != d.DelegateUserID {
		return nil
	}
	t.ApproverUserID, t.ApproverEmployeeNo = d.DelegateUserID, d.DelegateEmployeeNo
	t.DelegatedFrom = &Delegator{UserID: userID, EmployeeNo: employeeNo}
	return nil
}

// oaTime is when the OA says an event happened (at, the event's timestamp), within when its
// task was created and now: decisions made in the OA count from then, not from when mportal
// processed the event (minutes later in a burst, months for history an OA sends late, which
// took over the step-time statistics and marked the task overdue).
func oaTime(at, created, now time.Time) time.Time {
	switch {
	case at.IsZero() || at.After(now):
		return now
	case at.Before(created):
		return created
	}
	return at.UTC().Truncate(time.Millisecond)
}

// recordOASide records the decision the OA reports for a task mportal has no decision for
// (decided on the OA side): via oa, nothing to call back. A decision made in the app first
// stays.
func (s *Service) recordOASide(ctx context.Context, t *Task, decidedAt time.Time) error {
	action := ActionApprove
	if t.Status == StatusRejected {
		action = ActionReject
	}
	d := &Decision{ID: t.ID, Source: t.Source, TaskID: t.TaskID, InstanceID: t.InstanceID, FlowCode: t.FlowCode,
		NodeID: t.NodeID, Action: action, ByUserID: t.ApproverUserID, ByEmployeeNo: t.ApproverEmployeeNo, Via: ViaOA,
		TaskVersion: t.Version, DecidedAt: decidedAt, TaskCreatedAt: t.CreatedAt, PushedAt: t.PushedAt,
		Callback: Callback{State: CallbackNone}}
	stored, err := s.claimDecision(ctx, d)
	if err != nil {
		return err
	}
	t.DecidedAt, t.DecidedAction = &stored.DecidedAt, stored.Action
	return nil
}

// storedTime is t as BSON stores it (UTC, milliseconds), so that what the view holds equals
// what the database returns.
func storedTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

func nonNilFields(f []Field) []Field {
	if f == nil {
		return []Field{}
	}
	return f
}

func nonNilAttachments(a []Attachment) []Attachment {
	if a == nil {
		return []Attachment{}
	}
	return a
}
