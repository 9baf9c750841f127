package analytics

import (
	"sort"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// BuildShare is one build's share of an app's active devices on a day.
type BuildShare struct {
	Build   string  `json:"build"`
	Devices int     `json:"devices"`
	Share   float64 `json:"share"`
}

// AdoptionDay is an app's active devices on a day and how they split across builds. A device
// that ran two builds on one day (it updated) counts for both.
type AdoptionDay struct {
	Day     string       `json:"day"`
	Devices int          `json:"devices"`
	Builds  []BuildShare `json:"builds"`
}

// Adoption is the share of the app's active devices on each build per day over r. It returns
// forbidden for callers other than ops and admins and invalid naming the parameter.
func (s *Service) Adoption(p *auth.Principal, app string, r Range) ([]AdoptionDay, error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, err
	}
	if app == "" || len(app) > 64 {
		return nil, apperr.Field("app", "app must be an app's id")
	}
	days, err := r.days()
	if err != nil {
		return nil, err
	}
	s.rollups.mu.RLock()
	defer s.rollups.mu.RUnlock()
	prefix := "build:" + app + "/"
	out := make([]AdoptionDay, len(days))
	for i, d := range days {
		out[i] = AdoptionDay{Day: d, Builds: []BuildShare{}}
		all := s.rollups.get(d, "app:"+app)
		if all == nil {
			continue
		}
		out[i].Devices = int(all.devices.GetCardinality())
		for k, a := range s.rollups.days[d] {
			if b, ok := strings.CutPrefix(k, prefix); ok {
				n := int(a.devices.GetCardinality())
				share := 0.0
				if out[i].Devices > 0 {
					share = float64(n) / float64(out[i].Devices)
				}
				out[i].Builds = append(out[i].Builds, BuildShare{Build: b, Devices: n, Share: share})
			}
		}
		sort.Slice(out[i].Builds, func(x, y int) bool { return out[i].Builds[x].Build < out[i].Builds[y].Build })
	}
	return out, nil
}
