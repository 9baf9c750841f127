package chaos

import (
	"fmt"
	"time"
)

// ReminderTask is one task the fake OA sent on the flow with a reminder policy: the OA's
// creation time (the reminders count from it), when a device first saw it decided (zero when it
// stayed pending), and the push tokens of its approver's devices.
type ReminderTask struct {
	Task    string
	Created time.Time
	Decided time.Time
	Tokens  []string
}

// Reminder is one approval reminder the fake FCM accepted: the device it went to, the task and
// the reminder's number (its step: 1 for the first, ...).
type Reminder struct {
	Token, Task string
	N           int
}

// ReminderPolicy is the rig's policy for that flow: reminder n falls due Every*n after the
// task's creation, for n up to Max. Grace is how long the server may take to send a due one
// (its reminder pass interval plus the push's delivery); DueBy is the time by which the
// reminders that fell due before it minus Grace must have arrived (the end of the run's wait).
type ReminderPolicy struct {
	Every time.Duration
	Max   int
	Grace time.Duration
	DueBy time.Time
	// Faults are the spans in which no reminder pass could run (the database outage and the
	// recovery after it): only a step whose turn overlapped one may have been skipped.
	Faults []Window
}

// skippable reports whether a step that was the latest one due from 'from' until 'to' may have
// been passed over: whether a fault overlapped that span.
func (p ReminderPolicy) skippable(from, to time.Time) bool {
	for _, f := range p.Faults {
		if f.Start.Before(to) && f.End.After(from) {
			return true
		}
	}
	return false
}

// CheckRemindersOnce checks that each (task, step) reminder reached each device of the task's
// approver at most once (every replica runs the reminder pass), and at least once when it fell
// due, Grace before both the task's decision and DueBy. The server does not catch up a reminder
// whose time passed while no pass could send it (an outage): it sends only the latest one due,
// so a missing reminder n is excused, and counted, when the device got a later one of the task
// and a fault (p.Faults) overlapped step n's turn, from its due time until step n+1's. Without a
// fault, every replica's pass runs every few seconds: a skipped step is a lost reminder.
func CheckRemindersOnce(tasks []ReminderTask, p ReminderPolicy, got []Reminder) Guarantee {
	count := map[Reminder]int{}
	latest := map[[2]string]int{} // (token, task) -> highest step received
	for _, r := range got {
		count[r]++
		k := [2]string{r.Token, r.Task}
		latest[k] = max(latest[k], r.N)
	}
	known := map[string]bool{}
	var v violations
	due, superseded := 0, 0
	for _, t := range tasks {
		known[t.Task] = true
		for n := 1; n <= p.Max; n++ {
			at := t.Created.Add(time.Duration(n) * p.Every).Add(p.Grace)
			if at.After(p.DueBy) || (!t.Decided.IsZero() && at.After(t.Decided)) {
				break
			}
			for _, tok := range t.Tokens {
				due++
				switch {
				case count[Reminder{tok, t.Task, n}] > 0:
				case latest[[2]string{tok, t.Task}] > n && p.skippable(t.Created.Add(time.Duration(n)*p.Every), t.Created.Add(time.Duration(n+1)*p.Every)):
					superseded++
				case latest[[2]string{tok, t.Task}] > n:
					v.addf("%s never got reminder %d of %s, though no fault kept the reminder passes from sending it before step %d", tok, n, t.Task, n+1)
				default:
					v.addf("%s never got reminder %d of %s", tok, n, t.Task)
				}
			}
		}
	}
	for _, r := range got {
		switch n := count[r]; {
		case n > 1:
			v.addf("%s got reminder %d of %s %d times", r.Token, r.N, r.Task, n)
			count[r] = 1 // report each once
		case !known[r.Task]:
			v.addf("%s got reminder %d of %s, a task the fake OA never sent on the reminded flow", r.Token, r.N, r.Task)
		case r.N < 1 || r.N > p.Max:
			v.addf("%s got reminder %d of %s, beyond the policy's %d", r.Token, r.N, r.Task, p.Max)
		}
	}
	return Guarantee{
		Name: "each approval reminder (task, step) reached each approver device once",
		Pass: v.n == 0 && due > 0,
		Detail: v.detail(fmt.Sprintf("%d tasks, %d reminders received, %d (device, task, step) due, %d of them superseded by a later step during a fault (not caught up, by design)",
			len(tasks), len(got), due, superseded)),
	}
}
