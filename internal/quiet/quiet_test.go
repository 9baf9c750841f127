package quiet_test

import (
	"testing"
	"time"

	"github.com/mportal/mportal/internal/quiet"
	"github.com/mportal/mportal/push"
)

func TestQuietHoursHoldRemindersBackUnlessDueWithin(t *testing.T) {
	q := quiet.From(push.Prefs{QuietStart: "22:00", QuietEnd: "07:00", Timezone: "Asia/Shanghai"}, "")
	night := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC) // 23:30 in Shanghai
	day := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)     // 11:00 in Shanghai
	end := time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)    // 07:00 the next morning in Shanghai
	dueSoon, dueLater := end.Add(-time.Hour), end.Add(time.Hour)
	if !q.HoldsBack(night, nil) || !q.HoldsBack(night, &dueLater) {
		t.Error("a reminder at 23:30 waits for the end of the quiet hours")
	}
	if q.HoldsBack(night, &dueSoon) {
		t.Error("a task due before the quiet hours end is reminded at once")
	}
	if q.HoldsBack(day, nil) {
		t.Error("11:00 is not quiet")
	}
	if got, _ := q.Until(night); !got.Equal(end) {
		t.Errorf("quiet until %v, want %v", got, end)
	}
	if (quiet.From(push.Prefs{}, "Asia/Shanghai")).HoldsBack(night, nil) {
		t.Error("no quiet hours set: nothing held back")
	}
}
