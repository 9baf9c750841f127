package approval

import (
	"testing"
	"time"
)

func TestReminderTimes(t *testing.T) {
	created := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	due := created.Add(30 * time.Hour)
	for _, c := range []struct {
		name string
		p    ReminderPolicy
		due  *time.Time
		want []time.Duration // after created
	}{
		{"every X hours, at most N", ReminderPolicy{RemindAfterHours: 4, MaxReminders: 3}, nil, []time.Duration{4 * time.Hour, 8 * time.Hour, 12 * time.Hour}},
		{"Y hours before due among them", ReminderPolicy{RemindAfterHours: 12, BeforeDueHours: 2, MaxReminders: 3}, &due, []time.Duration{12 * time.Hour, 24 * time.Hour, 28 * time.Hour}},
		{"before due only", ReminderPolicy{BeforeDueHours: 6, MaxReminders: 5}, &due, []time.Duration{24 * time.Hour}},
		{"before due ignored without due_at", ReminderPolicy{BeforeDueHours: 6, MaxReminders: 5}, nil, nil},
		{"N = 0 sends nothing", ReminderPolicy{RemindAfterHours: 1}, nil, nil},
		{"a before-due time that is also an X time counts once", ReminderPolicy{RemindAfterHours: 10, BeforeDueHours: 10, MaxReminders: 3}, &due, []time.Duration{10 * time.Hour, 20 * time.Hour, 30 * time.Hour}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.reminderTimes(created, c.due)
			if len(got) != len(c.want) {
				t.Fatalf("%v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != created.Add(c.want[i]) {
					t.Errorf("reminder %d at %v, want +%v", i+1, got[i], c.want[i])
				}
			}
		})
	}
}
