package approval

import (
	"testing"
	"time"

	"github.com/mportal/mportal/push"
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

func TestQuietHoursHoldRemindersBackUnlessDueWithin(t *testing.T) {
	q := quietFrom(push.Prefs{QuietStart: "22:00", QuietEnd: "07:00", Timezone: "Asia/Shanghai"}, "")
	night := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC) // 23:30 in Shanghai
	day := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)     // 11:00 in Shanghai
	end := time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)    // 07:00 the next morning in Shanghai
	dueSoon, dueLater := end.Add(-time.Hour), end.Add(time.Hour)
	if !q.holdsBack(night, nil) || !q.holdsBack(night, &dueLater) {
		t.Error("a reminder at 23:30 waits for the end of the quiet hours")
	}
	if q.holdsBack(night, &dueSoon) {
		t.Error("a task due before the quiet hours end is reminded at once")
	}
	if q.holdsBack(day, nil) {
		t.Error("11:00 is not quiet")
	}
	if got, _ := q.until(night); !got.Equal(end) {
		t.Errorf("quiet until %v, want %v", got, end)
	}
	if (quietFrom(push.Prefs{}, "Asia/Shanghai")).holdsBack(night, nil) {
		t.Error("no quiet hours set: nothing held back")
	}
}
