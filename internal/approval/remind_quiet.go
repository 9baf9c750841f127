package approval

import (
	"fmt"
	"time"

	"github.com/mportal/mportal/push"
)

// quietWindow is a person's quiet hours: minutes after local midnight in loc.
type quietWindow struct {
	on         bool
	start, end int
	loc        *time.Location
}

// quietFrom reads quiet hours from push preferences. The zone is the preferences' own, else
// the user's directory zone, else UTC.
func quietFrom(p push.Prefs, userTZ string) quietWindow {
	if p.QuietStart == "" || p.QuietEnd == "" {
		return quietWindow{}
	}
	start, err1 := parseHHMM(p.QuietStart)
	end, err2 := parseHHMM(p.QuietEnd)
	if err1 != nil || err2 != nil || start == end {
		return quietWindow{}
	}
	return quietWindow{on: true, start: start, end: end, loc: zone(p.Timezone, userTZ)}
}

// zone is the first of the named zones that loads, else UTC.
func zone(names ...string) *time.Location {
	for _, n := range names {
		if n == "" {
			continue
		}
		if l, err := time.LoadLocation(n); err == nil {
			return l
		}
	}
	return time.UTC
}

func parseHHMM(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return h*60 + m, nil
}

// until reports whether now is in the quiet hours, and when they end.
func (q quietWindow) until(now time.Time) (time.Time, bool) {
	if !q.on {
		return time.Time{}, false
	}
	local := now.In(q.loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	at := func(day int) time.Time { return time.Date(y, mo, day, q.end/60, q.end%60, 0, 0, q.loc).UTC() }
	switch {
	case q.start < q.end && m >= q.start && m < q.end:
		return at(d), true
	case q.start > q.end && m >= q.start:
		return at(d + 1), true
	case q.start > q.end && m < q.end:
		return at(d), true
	}
	return time.Time{}, false
}

// holdsBack reports whether quiet hours hold a reminder back at now: they do unless the task
// falls due before they end (then the approver would otherwise learn of it too late).
func (q quietWindow) holdsBack(now time.Time, due *time.Time) bool {
	end, quiet := q.until(now)
	if !quiet {
		return false
	}
	return due == nil || due.After(end)
}
