package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mportal/mportal/internal/quiet"
	"github.com/mportal/mportal/push"
)

// remindTask is a pending task as the reminders see it.
type remindTask struct {
	id, flowCode, title string
	approver            string // employee_no
	approverUserID      string
	createdAt           time.Time
	dueAt               *time.Time
}

// person is what the reminders need of someone they notify.
type person struct {
	userID string
	quiet  quiet.Window
}

// RunOnce makes one pass: reminders due under each flow's policy, escalations, digests. cmd runs
// it every 5 minutes on every instance (a pass reads every task on the embedded database, 2.7 s
// at 10,000 tasks; see BenchmarkRemindersPass); each reminder is claimed by an insert first.
func (r *Reminders) RunOnce(ctx context.Context) (Sent, error) {
	var sent Sent
	now := r.Now.Stored()
	policies, err := r.policies(ctx)
	if err != nil {
		return sent, err
	}
	byFlow := map[string]*ReminderPolicy{}
	for i := range policies {
		byFlow[policies[i].FlowCode] = &policies[i]
	}
	tasks, err := r.pendingTasks(ctx)
	if err != nil {
		return sent, err
	}
	people := map[string]*person{}
	who := func(userID string) (*person, error) {
		if p, ok := people[userID]; ok {
			return p, nil
		}
		p, err := r.person(ctx, userID)
		if err != nil {
			return nil, err
		}
		people[userID] = p
		return p, nil
	}
	// A failure with one task or approver is reported, and the others are still reminded.
	var errs []error
	perApprover := map[string][]remindTask{}
	for _, t := range tasks {
		perApprover[t.approverUserID] = append(perApprover[t.approverUserID], t)
		p := byFlow[t.flowCode]
		if p == nil {
			continue
		}
		approver, err := who(t.approverUserID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok, err := r.remind(ctx, p, t, approver)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			sent.Reminders++
		}
		if p.EscalateAfterHours > 0 && !now.Before(t.createdAt.Add(hours(p.EscalateAfterHours))) {
			ok, err := r.escalate(ctx, p, t)
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				sent.Escalations++
			}
		}
	}
	for userID, ts := range perApprover {
		if len(ts) < r.digestMin() {
			continue
		}
		approver, err := who(userID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok, err := r.digest(ctx, ts[0].approver, approver, ts)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			sent.Digests++
		}
	}
	return sent, errors.Join(errs...)
}

func (r *Reminders) digestMin() int {
	if r.DigestMin > 0 {
		return r.DigestMin
	}
	return 2
}

func (r *Reminders) digestHour() int {
	if r.DigestHour > 0 && r.DigestHour < 24 {
		return r.DigestHour
	}
	return 9
}

// remind sends the latest reminder that is due for t, unless the approver's quiet hours hold it
// back. Reminders whose time passed while none could be sent are not caught up: the count stays
// within MaxReminders either way.
func (r *Reminders) remind(ctx context.Context, p *ReminderPolicy, t remindTask, approver *person) (bool, error) {
	now := r.Now.Stored()
	n := 0
	for i, at := range p.reminderTimes(t.createdAt, t.dueAt) {
		if !at.After(now) {
			n = i + 1
		}
	}
	if n == 0 || approver.quiet.HoldsBack(now, t.dueAt) {
		return false, nil
	}
	return r.send(ctx, reminderDoc{ID: reminderID(t.id, n), Kind: "reminder", TaskID: t.id, EmployeeNo: t.approver, N: n, At: now},
		push.Notification{
			Key: "approval-reminder:" + reminderID(t.id, n), Category: push.CategoryApproval,
			Audience: push.Audience{UserIDs: []string{approver.userID}},
			Title:    map[string]string{"zh-CN": "待审批提醒", "en": "Approval waiting for you"},
			Body:     map[string]string{"zh-CN": t.title, "en": t.title},
			DeepLink: taskDeepLink(t.id),
			Data:     map[string]string{"task_id": t.id, "reminder": strconv.Itoa(n)},
		})
}

// escalate notifies the policy's escalation list once per task.
func (r *Reminders) escalate(ctx context.Context, p *ReminderPolicy, t remindTask) (bool, error) {
	if r.Directory == nil {
		return false, nil
	}
	users, err := r.Directory.ActiveUsersByEmployeeNo(ctx, p.EscalateTo)
	if err != nil {
		return false, fmt.Errorf("escalation list of flow %s: %w", p.FlowCode, err)
	}
	ids := make([]string, 0, len(users))
	for _, emp := range p.EscalateTo {
		if id, ok := users[emp]; ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	id := t.id + ":escalation"
	return r.send(ctx, reminderDoc{ID: id, Kind: "escalation", TaskID: t.id, EmployeeNo: t.approver, At: r.Now.Stored()},
		push.Notification{
			Key: "approval-escalation:" + t.id, Category: push.CategoryApproval,
			Audience: push.Audience{UserIDs: ids},
			Title:    map[string]string{"zh-CN": "审批超时未处理", "en": "Approval overdue"},
			Body: map[string]string{
				"zh-CN": fmt.Sprintf("%s(审批人 %s)已等待超过 %g 小时", t.title, t.approver, p.EscalateAfterHours),
				"en":    fmt.Sprintf("%s (approver %s) has waited over %g hours", t.title, t.approver, p.EscalateAfterHours),
			},
			Data: map[string]string{"task_id": t.id},
		})
}

// digest sends an approver with several pending tasks one summary a day, from DigestHour of
// their local day and outside their quiet hours.
func (r *Reminders) digest(ctx context.Context, emp string, approver *person, ts []remindTask) (bool, error) {
	now := r.Now.Stored()
	loc := approver.quiet.Loc
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	if local.Hour() < r.digestHour() || approver.quiet.HoldsBack(now, nil) {
		return false, nil
	}
	day := local.Format("2006-01-02")
	id := "digest:" + emp + ":" + day
	count := strconv.Itoa(len(ts))
	return r.send(ctx, reminderDoc{ID: id, Kind: "digest", EmployeeNo: emp, N: len(ts), At: now},
		push.Notification{
			Key: "approval-" + id, Category: push.CategoryApproval,
			Audience: push.Audience{UserIDs: []string{approver.userID}},
			Title:    map[string]string{"zh-CN": "今日待审批", "en": "Approvals waiting today"},
			Body:     map[string]string{"zh-CN": "您有 " + count + " 个待审批事项", "en": "You have " + count + " approvals waiting"},
			DeepLink: digestDeepLink,
			Data:     map[string]string{"pending": count},
		})
}
