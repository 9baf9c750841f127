package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// The reminder policy the rig sets for remindFlow: a reminder every remindEvery after a task
// arrived, at most remindMax; the instances make their reminder pass every reminderPass
// (MPORTAL_APPROVAL_REMINDER_INTERVAL), so reminders fall due, and are raced for, during the
// faults.
const (
	remindEvery  = 40 * time.Second
	remindMax    = 3
	reminderPass = 3 * time.Second
	// remindTaskEvery is how often the fake OA sends a task on remindFlow.
	remindTaskEvery = 20 * time.Second
	// remindDecideAfter: odd-numbered remindFlow tasks are decided once this old (after their
	// first reminder, before their second); even-numbered ones stay pending to the end.
	remindDecideAfter = 60 * time.Second
	// remindGrace is how late a due reminder may arrive: a pass, plus its push through the
	// outbox while the deployment is loaded.
	remindGrace = 20 * time.Second
)

// setReminderPolicy sets remindFlow's policy through the API, as ops.
func setReminderPolicy(ctx context.Context, cl *client, ops string) error {
	err := cl.retry(ctx, "PUT", "/v1/ops/approvals/reminder-policies/"+remindFlow.code, ops, map[string]any{
		"remind_after_hours": remindEvery.Hours(), "max_reminders": remindMax}, nil)
	if err != nil {
		return fmt.Errorf("set the reminder policy of %s: %w", remindFlow.code, err)
	}
	return nil
}

// remindDecideNow says whether a device decides the remindFlow task id (created at created) now.
func remindDecideNow(id string, created time.Time) bool {
	n, _ := strconv.Atoi(id[strings.LastIndex(id, "-")+1:])
	return n%2 == 1 && time.Since(created) >= remindDecideAfter
}

// reminderLoad has the fake OA send a remindFlow task every remindTaskEvery to the users in
// turn until loadCtx ends; it returns the tasks sent, with their approvers' push tokens.
func reminderLoad(ctx, loadCtx context.Context, cl *client, oa *fakeOA, devices []*device, users int) []chaos.ReminderTask {
	var tasks []chaos.ReminderTask
	for n := 1; loadCtx.Err() == nil; n++ {
		user := "C" + strconv.Itoa(1000+1+(n-1)%users)
		created := oa.sendTask(ctx, cl, n, user, remindFlow)
		if !created.IsZero() {
			t := chaos.ReminderTask{Task: oaSource + ":" + remindFlow.prefix + "TASK-" + strconv.Itoa(n), Created: created}
			for _, d := range devices {
				if d.user == user {
					t.Tokens = append(t.Tokens, d.pushToken)
				}
			}
			tasks = append(tasks, t)
		}
		sleep(loadCtx, remindTaskEvery)
	}
	return tasks
}

// reminderRecords returns the approval reminders the fake FCM accepted, and sets each task's
// decision time from the earliest decision a device saw.
func reminderRecords(c *cluster, tasks []chaos.ReminderTask, seen []chaos.Decision) []chaos.Reminder {
	decided := map[string]time.Time{}
	for _, d := range seen {
		at, err := time.Parse(time.RFC3339, d.DecidedAt)
		if err == nil && (decided[d.Task].IsZero() || at.Before(decided[d.Task])) {
			decided[d.Task] = at
		}
	}
	for i := range tasks {
		tasks[i].Decided = decided[tasks[i].Task]
	}
	var got []chaos.Reminder
	for _, m := range c.fcm.Messages() {
		if n, err := strconv.Atoi(m.Data["reminder"]); err == nil {
			got = append(got, chaos.Reminder{Token: m.Token, Task: m.Data["task_id"], N: n})
		}
	}
	return got
}
