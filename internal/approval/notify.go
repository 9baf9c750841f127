package approval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// Push data keys the app reads (see README.md, "Notifications").
const (
	dataTaskID         = "task_id"
	dataEvent          = "approval_event" // "task" (show) or "withdraw" (remove the shown one)
	dataActions        = "actions"        // "approve,reject"
	dataReasonRequired = "reason_required"
)

// collapseKey is the notification's tag (Android) and apns-collapse-id (iOS): every push about
// a task carries it, so a later one replaces, and a silent one withdraws, the shown one.
func collapseKey(taskKey string) string { return "approval:" + taskKey }

// notifyTask enqueues the push of a stored task (enqueueTaskPush), then records pushed_at.
func (s *Service) notifyTask(ctx context.Context, t *Task) error {
	if err := s.enqueueTaskPush(ctx, t); err != nil {
		return err
	}
	if _, err := s.coll(tasksColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: t.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "pushed_at", Value: t.PushedAt}}}}); err != nil {
		return fmt.Errorf("record push of task %s: %w", t.ID, mongodb.Translate(err, "task"))
	}
	return nil
}

// enqueueTaskPush enqueues the visible push of a task that reached its holder: the title only
// (no form data, no credential: the app fetches the task with the user's session), with the
// actions and which of them need a reason, and sets t.PushedAt for the caller to store. The
// push key makes a repeated enqueue (a retry) send nothing twice.
func (s *Service) enqueueTaskPush(ctx context.Context, t *Task) error {
	actions, reasons := make([]string, 0, 2), make([]string, 0, 2)
	for _, a := range t.Actions {
		actions = append(actions, a.Action)
		if a.ReasonRequired {
			reasons = append(reasons, a.Action)
		}
	}
	body := t.FlowName + " · " + t.NodeName
	title := map[string]string{"zh-CN": "待审批：" + clip(t.Title), "en": "To approve: " + clip(t.Title)}
	if t.DelegatedFrom != nil {
		title = map[string]string{"zh-CN": "代理审批：" + clip(t.Title), "en": "To approve (delegated): " + clip(t.Title)}
	}
	n := push.Notification{
		Key:         pushKey(t.ID, t.ApproverUserID, strconv.FormatInt(t.Version, 10)),
		Category:    push.CategoryApproval,
		Audience:    push.Audience{UserIDs: []string{t.ApproverUserID}},
		Title:       title,
		Body:        map[string]string{"zh-CN": body, "en": body},
		DeepLink:    "mportal://approvals/" + t.ID,
		CollapseKey: collapseKey(t.ID),
		Data: map[string]string{dataTaskID: t.ID, dataEvent: "task", dataActions: strings.Join(actions, ","),
			dataReasonRequired: strings.Join(reasons, ",")},
	}
	if _, _, err := s.Push.Enqueue(ctx, n); err != nil {
		return fmt.Errorf("push task %s: %w", t.ID, err)
	}
	now := s.Now.Stored()
	t.PushedAt = &now
	return nil
}

// withdraw enqueues the silent push that removes the task's notification from every device of
// userID (decided, on another device or on the OA side, withdrawn, or reassigned). why names
// the occasion, so that each withdrawal is delivered once.
func (s *Service) withdraw(ctx context.Context, taskKey, userID, why string) error {
	n := push.Notification{
		Key:         pushKey(taskKey, userID, "withdraw", why),
		Category:    push.CategoryApproval,
		Audience:    push.Audience{UserIDs: []string{userID}},
		CollapseKey: collapseKey(taskKey),
		Silent:      true,
		Data:        map[string]string{dataTaskID: taskKey, dataEvent: "withdraw"},
	}
	if _, _, err := s.Push.Enqueue(ctx, n); err != nil {
		return fmt.Errorf("withdraw push of task %s: %w", taskKey, err)
	}
	return nil
}

// pushKey is the push notification key "approval:<parts joined by ':'>", or its SHA-256 when
// that is over the push engine's 200 characters (long OA ids).
func pushKey(parts ...string) string {
	k := "approval:" + strings.Join(parts, ":")
	if len(k) <= 200 {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "approval:" + hex.EncodeToString(sum[:])
}

// clip keeps a title within the push title limit.
func clip(s string) string {
	r := []rune(s)
	if len(r) > 150 {
		return string(r[:150]) + "…"
	}
	return s
}
