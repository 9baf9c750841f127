package chaos

import (
	"strings"
	"testing"
	"time"
)

func TestCheckRemindersOnce(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	// reminders every 30 s, at most 3; a pass may take 10 s; the run waited until t0+95 s, so
	// reminders 1 and 2 (due t0+30, t0+60) must have arrived, 3 (t0+90, +10 > 95) need not.
	p := ReminderPolicy{Every: 30 * time.Second, Max: 3, Grace: 10 * time.Second, DueBy: t0.Add(95 * time.Second)}
	tasks := []ReminderTask{
		{Task: "oa:T1", Created: t0, Tokens: []string{"a", "b"}},
		// decided 50 s in: only reminder 1 (due 30 s, +10 s grace) was owed
		{Task: "oa:T2", Created: t0, Decided: t0.Add(50 * time.Second), Tokens: []string{"c"}},
	}
	ok := []Reminder{{"a", "oa:T1", 1}, {"b", "oa:T1", 1}, {"a", "oa:T1", 2}, {"b", "oa:T1", 2}, {"c", "oa:T2", 1}}
	t.Run("passes when each due reminder reached each device once", func(t *testing.T) {
		if g := CheckRemindersOnce(tasks, p, ok); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("passes when a reminder not yet owed was sent too", func(t *testing.T) {
		if g := CheckRemindersOnce(tasks, p, append(ok, Reminder{"a", "oa:T1", 3})); !g.Pass {
			t.Fatalf("failed: %s", g.Detail)
		}
	})
	t.Run("fails when a device got one reminder twice", func(t *testing.T) {
		g := CheckRemindersOnce(tasks, p, append(ok, Reminder{"b", "oa:T1", 2}))
		if g.Pass || !strings.Contains(g.Detail, "b got reminder 2 of oa:T1 2 times") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a due reminder is missing", func(t *testing.T) {
		g := CheckRemindersOnce(tasks, p, []Reminder{ok[0], ok[1], ok[3], ok[4]})
		if g.Pass || !strings.Contains(g.Detail, "a never got reminder 2 of oa:T1") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("excuses a missing step that a later one superseded during a fault, and counts it", func(t *testing.T) {
		// step 1's turn is t0+30..t0+60: an outage from t0+40 to t0+55 kept the passes from it
		faulty := p
		faulty.Faults = []Window{{Name: "database", Start: t0.Add(40 * time.Second), End: t0.Add(55 * time.Second)}}
		g := CheckRemindersOnce(tasks, faulty, append(ok[2:4:4], ok[4]))
		if !g.Pass || !strings.Contains(g.Detail, "2 of them superseded") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails when a later step superseded a missing one without a fault in its turn", func(t *testing.T) {
		faulty := p
		// an outage after step 1's turn (t0+30..t0+60) does not excuse it
		faulty.Faults = []Window{{Name: "database", Start: t0.Add(61 * time.Second), End: t0.Add(80 * time.Second)}}
		for _, pol := range []ReminderPolicy{p, faulty} {
			g := CheckRemindersOnce(tasks, pol, append(ok[2:4:4], ok[4]))
			if g.Pass || !strings.Contains(g.Detail, "a never got reminder 1 of oa:T1, though no fault") {
				t.Fatalf("faults %v: pass=%v: %s", pol.Faults, g.Pass, g.Detail)
			}
		}
	})
	t.Run("fails when a reminder for a decided task's owed step is missing", func(t *testing.T) {
		g := CheckRemindersOnce(tasks, p, ok[:4])
		if g.Pass || !strings.Contains(g.Detail, "c never got reminder 1 of oa:T2") {
			t.Fatalf("pass=%v: %s", g.Pass, g.Detail)
		}
	})
	t.Run("fails on a reminder beyond the policy or for a task never sent", func(t *testing.T) {
		for _, extra := range []Reminder{{"a", "oa:T1", 4}, {"a", "oa:T9", 1}} {
			if g := CheckRemindersOnce(tasks, p, append(ok, extra)); g.Pass {
				t.Errorf("passed with %v: %s", extra, g.Detail)
			}
		}
	})
	t.Run("fails when no reminder fell due", func(t *testing.T) {
		if g := CheckRemindersOnce(tasks, ReminderPolicy{Every: time.Hour, Max: 3, DueBy: t0.Add(time.Minute)}, nil); g.Pass {
			t.Fatalf("passed with nothing due: %s", g.Detail)
		}
	})
}
