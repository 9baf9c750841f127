package hours

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 3, day, hour, minute, 0, 0, shanghai) }
	for _, tt := range []struct {
		name       string
		start, end int
		now        time.Time
		quiet      bool
		want       time.Time
	}{
		{"late evening: until the next morning", 22 * 60, 7 * 60, at(2, 23, 30), true, at(3, 7, 0)},
		{"after midnight: until the same morning", 22 * 60, 7 * 60, at(3, 2, 0), true, at(3, 7, 0)},
		{"the end minute is not quiet", 22 * 60, 7 * 60, at(3, 7, 0), false, time.Time{}},
		{"daytime is not quiet", 22 * 60, 7 * 60, at(3, 12, 0), false, time.Time{}},
		{"inside a daytime window", 12 * 60, 13*60 + 30, at(3, 12, 15), true, at(3, 13, 30)},
		{"equal bounds are no window", 8 * 60, 8 * 60, at(3, 8, 0), false, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, quiet := Until(tt.start, tt.end, tt.now.UTC(), shanghai)
			if quiet != tt.quiet || !got.Equal(tt.want) {
				t.Fatalf("Until = %v %v, want %v %v", got, quiet, tt.want, tt.quiet)
			}
		})
	}
}

// A window that ends in the hour the clocks skip (spring forward) ends when the skip does, not
// an hour early: time.Date reads 02:30 on that night as 01:30 standard time.
func TestUntilEndingInTheSkippedHour(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	skipEnd := time.Date(2024, 3, 10, 3, 0, 0, 0, la) // 02:00 PST became 03:00 PDT
	for _, now := range []time.Time{
		time.Date(2024, 3, 9, 23, 0, 0, 0, la),  // the evening before
		time.Date(2024, 3, 10, 1, 45, 0, 0, la), // after midnight, before the skip
	} {
		until, quiet := Until(22*60, 2*60+30, now.UTC(), la)
		if !quiet || !until.Equal(skipEnd) {
			t.Errorf("at %v: quiet %v until %v, want until %v", now, quiet, until.In(la), skipEnd)
		}
	}
}
