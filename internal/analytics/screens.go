package analytics

import (
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/mportal/mportal/internal/auth"
)

// Screen is one screen's numbers over a range: page views, distinct viewers (exact, over the
// whole range) and how often it was the screen an app started on (app_start with a screen).
type Screen struct {
	Screen   string `json:"screen"`
	Views    int64  `json:"views"`
	Visitors int    `json:"visitors"`
	Entries  int64  `json:"entries"`
}

// Screens lists the screens viewed in r, most views first, at most limit of them (0 = all).
// It returns forbidden for callers other than ops and admins and invalid naming the parameter.
func (s *Service) Screens(p *auth.Principal, r Range, limit int) ([]Screen, error) {
	days, unlock, err := s.readable(p, r)
	if err != nil {
		return nil, err
	}
	defer unlock()
	views, entries := map[string]int64{}, map[string]int64{}
	visitors := map[string][]*roaring.Bitmap{}
	for _, d := range days {
		for k, a := range s.rollups.days[d] {
			if name, ok := strings.CutPrefix(k, "screen:"); ok {
				views[name] += a.events
				visitors[name] = append(visitors[name], a.users)
			} else if name, ok := strings.CutPrefix(k, "entry:"); ok {
				entries[name] += a.events
				if _, seen := views[name]; !seen {
					views[name] += 0
				}
			}
		}
	}
	out := make([]Screen, 0, len(views))
	for name, v := range views {
		out = append(out, Screen{Screen: name, Views: v, Entries: entries[name], Visitors: distinct(visitors[name])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Views != out[j].Views {
			return out[i].Views > out[j].Views
		}
		return out[i].Screen < out[j].Screen
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ScreenDay is one day of a screen: views and distinct viewers.
type ScreenDay struct {
	Day      string `json:"day"`
	Views    int64  `json:"views"`
	Visitors int    `json:"visitors"`
}

// ScreenDays is one screen's daily PV and UV over r. Errors as Screens.
func (s *Service) ScreenDays(p *auth.Principal, r Range, screen string) ([]ScreenDay, error) {
	days, unlock, err := s.readable(p, r)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := make([]ScreenDay, len(days))
	for i, d := range days {
		out[i] = ScreenDay{Day: d}
		if a := s.rollups.get(d, "screen:"+screen); a != nil {
			out[i].Views, out[i].Visitors = a.events, int(a.users.GetCardinality())
		}
	}
	return out, nil
}
