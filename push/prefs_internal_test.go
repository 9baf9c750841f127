package push

import (
	"testing"
	"time"
)

func TestQuietHoursUntil(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 3, day, hour, minute, 0, 0, shanghai) }
	tests := []struct {
		name       string
		start, end string
		now        time.Time
		quiet      bool
		wantUntil  time.Time
	}{
		{"holds a push late in the evening until the next morning", "22:00", "07:00", at(2, 23, 30), true, at(3, 7, 0)},
		{"holds a push after midnight until the same morning", "22:00", "07:00", at(3, 2, 0), true, at(3, 7, 0)},
		{"lets a push through at the end minute", "22:00", "07:00", at(3, 7, 0), false, time.Time{}},
		{"lets a daytime push through", "22:00", "07:00", at(3, 12, 0), false, time.Time{}},
		{"holds a push inside daytime quiet hours", "12:00", "13:30", at(3, 12, 15), true, at(3, 13, 30)},
		{"treats equal bounds as no quiet hours", "08:00", "08:00", at(3, 8, 0), false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Prefs{QuietStart: tt.start, QuietEnd: tt.end}
			q, err := p.normalize()
			if err != nil {
				t.Fatal(err)
			}
			until, quiet := q.until(tt.now.UTC(), shanghai)
			if quiet != tt.quiet || !until.Equal(tt.wantUntil) {
				t.Fatalf("until %v quiet %v, want %v %v", until, quiet, tt.wantUntil, tt.quiet)
			}
		})
	}
	t.Run("uses the preference's own zone over the device's", func(t *testing.T) {
		p := Prefs{QuietStart: "22:00", QuietEnd: "07:00", Timezone: "Europe/Berlin"}
		q, err := p.normalize()
		if err != nil {
			t.Fatal(err)
		}
		// 23:30 in Shanghai is 16:30 in Berlin: not quiet there.
		if _, quiet := q.until(at(2, 23, 30), shanghai); quiet {
			t.Fatal("quiet in the device's zone, but the preference names Berlin")
		}
	})
}
