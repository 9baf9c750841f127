// Package quiet reads a person's quiet hours from their push preferences, for workers that
// decide themselves whether a reminder may go out now (approval and training reminders). The
// push engine applies the same hours to every non-urgent push it delivers.
package quiet

import (
	"fmt"
	"time"

	"github.com/mportal/mportal/internal/quiet/hours"
	"github.com/mportal/mportal/push"
)

// Window is a person's quiet hours: minutes after local midnight in Loc. The zero Window has no
// quiet hours.
type Window struct {
	on         bool
	start, end int
	// Loc is the person's zone (UTC when none is known), also used for local-day decisions.
	Loc *time.Location
}

// From reads quiet hours from push preferences. The zone is the preferences' own, else the
// user's directory zone, else UTC; it is set even when there are no quiet hours.
func From(p push.Prefs, userTZ string) Window {
	w := Window{Loc: Zone(p.Timezone, userTZ)}
	if p.QuietStart == "" || p.QuietEnd == "" {
		return w
	}
	start, err1 := parseHHMM(p.QuietStart)
	end, err2 := parseHHMM(p.QuietEnd)
	if err1 != nil || err2 != nil || start == end {
		return w
	}
	w.on, w.start, w.end = true, start, end
	return w
}

// Zone is the first of the named zones that loads, else UTC.
func Zone(names ...string) *time.Location {
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

// Until reports whether now is in the quiet hours, and when they end.
func (q Window) Until(now time.Time) (time.Time, bool) {
	if !q.on {
		return time.Time{}, false
	}
	loc := q.Loc
	if loc == nil {
		loc = time.UTC
	}
	return hours.Until(q.start, q.end, now, loc)
}

// HoldsBack reports whether quiet hours hold a reminder back at now: they do unless the
// deadline falls before they end (then the person would otherwise learn of it too late).
func (q Window) HoldsBack(now time.Time, due *time.Time) bool {
	end, quiet := q.Until(now)
	if !quiet {
		return false
	}
	return due == nil || due.After(end)
}
