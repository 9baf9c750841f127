// Package hours is the one quiet-hours rule: given a daily window of local minutes, whether an
// instant falls in it and when it ends. The push engine (push) and the reminder workers (through
// internal/quiet, which reads a person's window from their push preferences) both apply it; it
// has no dependencies so that both can.
package hours

import "time"

// Until reports whether now falls in the window [start, end) of minutes after local midnight in
// loc, and if so when the window ends. A window with start > end spans midnight; start == end is
// no window.
func Until(start, end int, now time.Time, loc *time.Location) (time.Time, bool) {
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	switch {
	case start < end && m >= start && m < end, start > end && m < end:
		return wallTime(y, mo, d, end, loc).UTC(), true
	case start > end && m >= start:
		return wallTime(y, mo, d+1, end, loc).UTC(), true
	}
	return time.Time{}, false
}

// wallTime is the first instant in loc at or after minute (after midnight) of the day: the
// instant itself, or, when the clocks skip it (spring forward), the end of the skip. time.Date
// gives a skipped time in the earlier zone instead (02:30 becomes 01:30 standard time), which
// ended quiet hours an hour early on that night, or at once.
func wallTime(y int, mo time.Month, d, minute int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, minute/60, minute%60, 0, 0, loc)
	if t.Hour()*60+t.Minute() != minute {
		if _, end := t.ZoneBounds(); end.After(t) {
			return end
		}
	}
	return t
}
