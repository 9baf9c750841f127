package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// DecisionInput is an approver's decision.
type DecisionInput struct {
	// Action is approve or reject, one of the task's actions.
	Action string `json:"action"`
	// Reason is required when the action says reason_required; at most 1,000 characters.
	Reason string `json:"reason"`
	// IdempotencyKey identifies the attempt: the same key again gets the first answer.
	IdempotencyKey string `json:"idempotency_key"`
}

// DecisionView is a decision as its task's approver sees it.
type DecisionView struct {
	TaskID       string    `json:"task_id"`
	Action       string    `json:"action"`
	Reason       string    `json:"reason"`
	Via          string    `json:"via"`
	ByEmployeeNo string    `json:"by_employee_no"`
	DecidedAt    time.Time `json:"decided_at"`
}

func (d *Decision) view() *DecisionView {
	return &DecisionView{TaskID: d.ID, Action: d.Action, Reason: d.Reason, Via: d.Via, ByEmployeeNo: d.ByEmployeeNo,
		DecidedAt: d.DecidedAt}
}

const maxReason = 1000

// Decide records p's decision on their task taskID, exactly once: the decision is an insert
// under the task's _id, so of concurrent decisions (two devices, approve and reject) one wins
// and the others get already_decided with the winning decision in Data; a retry with the
// winner's idempotency key gets the winning decision again, as a success. The task then closes,
// and a silent push withdraws its notification from the approver's devices.
//
// It returns not_found unless the task is p's (also for ops and admins: nobody decides another
// person's task), invalid naming action, reason or idempotency_key, task_closed when the task
// was withdrawn, transferred or decided on the OA side, already_decided, and unavailable.
func (s *Service) Decide(ctx context.Context, p *auth.Principal, taskID string, in DecisionInput) (*DecisionView, error) {
	d, err := s.decide(ctx, p, taskID, in, 0)
	if err != nil {
		return nil, err
	}
	return d.view(), nil
}

// decide is Decide; a non-zero version makes it refuse (task_closed) a task whose version is
// no longer the one the approver saw (an offline decision).
func (s *Service) decide(ctx context.Context, p *auth.Principal, taskID string, in DecisionInput, version int64) (*Decision, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if k := in.IdempotencyKey; k == "" || len(k) > 128 || strings.ContainsAny(k, "\x00$") {
		return nil, apperr.Field("idempotency_key", "idempotency_key is required: 1 to 128 characters (a UUID per decision attempt)")
	}
	d, fresh, open, err := s.claimOpen(ctx, p, taskID, in, version)
	if d == nil {
		return nil, err
	}
	if !fresh {
		// Decided before (this attempt's retry, or another's): finish closing the task if the
		// first attempt failed after storing its decision, whoever asks. Before, only a retry
		// with the same key did, and the task stayed pending and reminded.
		if open {
			if cerr := s.closeAfterWrite(ctx, d); cerr != nil && err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	s.recordDecision(d)
	queueCallback(ctx, s.DB, d) // part C: the callback outbox's queue (callback_queue.go)
	if err := s.closeAfterWrite(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// closeAfterWrite closes d's task (closeDecided) at once, or, for a decision pushed through
// sync, once the push's write has committed: closeDecided takes the task's lock, which the OA's
// events hold while they wait for a sync write, and taken inside the push's write it held one
// of the engine's two groups meanwhile; two pushed decisions on the task held both, and every
// sync write of the instance stopped. As a write of its own, the close is also stamped with a
// number of its own: a push chunk run again after outliving its lease finds the decision
// stored and closed, and rewrote nothing under the new number.
func (s *Service) closeAfterWrite(ctx context.Context, d *Decision) error {
	return datasync.AfterWrite(ctx, func(ctx context.Context) error { return s.closeDecided(ctx, d) })
}

// claimOpen checks p's decision on taskID and stores it. It returns the decision and fresh when
// this call stored it; an existing decision (not fresh) with replay's answer to it, and open
// when the task is not marked decided yet; or nil and why not. A task the OA closed or moved
// between the read and the insert is seen by the read after the insert, and the decision is
// taken back: before, it was accepted, and the OA got a callback for a withdrawn request or for
// a task that was someone else's by then. (No task lock is taken here: a pushed decision runs
// inside a sync write, and the OA's events hold the task's lock while they wait for one; see
// closeAfterWrite.)
func (s *Service) claimOpen(ctx context.Context, p *auth.Principal, taskID string, in DecisionInput, version int64) (d *Decision, fresh, open bool, err error) {
	d, fresh, err = s.claimOpenTask(ctx, p, taskID, in, version, &open)
	return d, fresh, open, err
}

func (s *Service) claimOpenTask(ctx context.Context, p *auth.Principal, taskID string, in DecisionInput, version int64, open *bool) (*Decision, bool, error) {
	t, err := s.readTask(ctx, taskID)
	if err != nil {
		return nil, false, err
	}
	if t == nil || t.ApproverUserID != p.UserID {
		return nil, false, apperr.New(apperr.NotFound, "approval task not found")
	}
	*open = t.DecidedAt == nil
	if prev, err := s.decisionOf(ctx, taskID); err != nil || prev != nil {
		if err != nil {
			return nil, false, err
		}
		_, err := s.replay(prev, p, in.IdempotencyKey)
		return prev, false, err
	}
	if err := closedError(t, version); err != nil {
		return nil, false, err
	}
	action, ok := t.action(in.Action)
	if !ok {
		return nil, false, apperr.Field("action", "action must be one of the task's actions (%s)", t.actionNames())
	}
	reason := strings.TrimSpace(in.Reason)
	if action.ReasonRequired && reason == "" {
		return nil, false, apperr.Field("reason", "a reason is required to %s this task", in.Action)
	}
	if utf8.RuneCountInString(reason) > maxReason {
		return nil, false, apperr.Field("reason", "reason must be at most %d characters", maxReason)
	}
	now := s.Now.Stored()
	d := &Decision{ID: t.ID, Source: t.Source, TaskID: t.TaskID, InstanceID: t.InstanceID, FlowCode: t.FlowCode,
		NodeID: t.NodeID, Action: in.Action, Reason: reason, ByUserID: p.UserID, ByEmployeeNo: t.ApproverEmployeeNo,
		Via: ViaMobile, IdempotencyKey: in.IdempotencyKey, DeviceID: p.DeviceID, TaskVersion: t.Version,
		ActionContext: t.ActionContext, DecidedAt: now, TaskCreatedAt: t.CreatedAt, PushedAt: t.PushedAt,
		Callback: Callback{State: CallbackPending, NextAt: now}}
	if s.beforeClaim != nil {
		s.beforeClaim()
	}
	won, err := s.claimDecision(ctx, d)
	if err != nil {
		return nil, false, err
	}
	if won != d {
		_, err := s.replay(won, p, in.IdempotencyKey)
		return won, false, err // open: the winner may not have closed the task yet
	}
	after, err := s.readTask(ctx, taskID)
	if err == nil && after != nil && after.ApproverUserID == p.UserID && closedError(after, version) == nil {
		return d, true, nil
	}
	if _, derr := s.coll(decisionsColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: d.ID},
		{Key: "idempotency_key", Value: d.IdempotencyKey}, {Key: "by_user_id", Value: d.ByUserID}}); derr != nil {
		return nil, false, fmt.Errorf("take back a decision of a task closed meanwhile: %w", mongodb.Translate(derr, "decision"))
	}
	switch {
	case err != nil:
		return nil, false, err
	case after == nil || after.ApproverUserID != p.UserID:
		return nil, false, apperr.New(apperr.NotFound, "approval task not found")
	}
	return nil, false, closedError(after, version)
}

// replay answers a decision attempt on a decided task: the winning decision when it is the same
// attempt (same user, same key), already_decided with the winning decision otherwise.
func (s *Service) replay(prev *Decision, p *auth.Principal, key string) (*Decision, error) {
	if prev.Via == ViaMobile && prev.ByUserID == p.UserID && prev.IdempotencyKey == key {
		return prev, nil
	}
	msg := "this task was already decided (%s)"
	if prev.Via == ViaOA {
		return nil, &apperr.Error{Code: apperr.TaskClosed, Message: fmt.Sprintf(msg+" in the OA system", prev.Action),
			Data: map[string]any{"decision": prev.view()}}
	}
	return nil, &apperr.Error{Code: apperr.AlreadyDecided, Message: fmt.Sprintf(msg, prev.Action),
		Data: map[string]any{"decision": prev.view()}}
}

// closedError says why t cannot be decided, or nil when it can (and, with version set, still
// is the version the approver saw).
func closedError(t *Task, version int64) error {
	var why string
	switch {
	case t.InstanceStatus == StatusCanceled:
		why = "the request was withdrawn by the applicant"
	case t.InstanceStatus != StatusPending:
		why = "the request was already " + strings.ToLower(t.InstanceStatus) + " in the OA system"
	case t.Status == StatusTransferred:
		why = "the task was transferred to someone else in the OA system"
	case t.Status != StatusPending:
		why = "the task was already " + strings.ToLower(t.Status) + " in the OA system"
	case version != 0 && version != t.Version:
		why = "the task changed since it was synced (version " + fmt.Sprint(version) + ", now " + fmt.Sprint(t.Version) + "): review it again"
	default:
		return nil
	}
	return &apperr.Error{Code: apperr.TaskClosed, Message: "this task can no longer be decided: " + why,
		Data: map[string]any{"status": t.status()}}
}

func (t *Task) action(name string) (Action, bool) {
	for _, a := range t.Actions {
		if a.Action == name {
			return a, true
		}
	}
	return Action{}, false
}

func (t *Task) actionNames() string {
	names := make([]string, len(t.Actions))
	for i, a := range t.Actions {
		names[i] = a.Action
	}
	return strings.Join(names, ", ")
}

func (s *Service) decisionOf(ctx context.Context, taskID string) (*Decision, error) {
	var d Decision
	err := s.coll(decisionsColl).FindOne(ctx, bson.D{{Key: "_id", Value: taskID}}).Decode(&d)
	if mongodb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read decision of %s: %w", taskID, mongodb.Translate(err, "decision"))
	}
	return &d, nil
}

// claimDecision inserts d under its task's _id and returns d when it won, or the decision that
// was there first.
func (s *Service) claimDecision(ctx context.Context, d *Decision) (*Decision, error) {
	_, err := s.coll(decisionsColl).InsertOne(ctx, d)
	if err == nil {
		return d, nil
	}
	if !mongodb.IsDuplicateKey(err) {
		return nil, fmt.Errorf("record decision of %s: %w", d.ID, mongodb.Translate(err, "decision"))
	}
	prev, err := s.decisionOf(ctx, d.ID)
	if err == nil && prev == nil {
		err = fmt.Errorf("decision of %s vanished after a duplicate insert", d.ID)
	}
	return prev, err
}

// closeDecided marks the task decided (it leaves the pending list and syncs closed) and
// withdraws its notification from the approver's devices.
func (s *Service) closeDecided(ctx context.Context, d *Decision) error {
	// Only a decision that stands closes the task: one taken back (its task was closed by the
	// OA meanwhile) may have been read by another attempt before it went.
	if cur, err := s.decisionOf(ctx, d.ID); err != nil || cur == nil || cur.Via != d.Via || cur.IdempotencyKey != d.IdempotencyKey {
		return err
	}
	if s.beforeClose != nil {
		s.beforeClose()
	}
	unlock := s.DB.Lock("approval/task:" + d.ID)
	var err error
	for {
		var read *Task
		if read, err = s.readTask(ctx, d.ID); err != nil || read == nil || read.DecidedAt != nil {
			break
		}
		t := *read
		t.DecidedAt, t.DecidedAction = &d.DecidedAt, d.Action
		t.Open = t.open()
		t.UpdatedAt = s.Now.Stored()
		// Another writer in between (the OA's next event) is read again, not overwritten.
		if err = s.writeTask(ctx, &t, read); !errors.Is(err, errTaskChanged) {
			break
		}
	}
	unlock()
	if err != nil {
		return err
	}
	return s.withdraw(ctx, d.ID, d.ByUserID, "decided")
}
