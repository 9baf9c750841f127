package analytics

import (
	"sort"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// BuildShare is one build's share of an app's active devices on a day.
type BuildShare struct {
	Build   string  `json:"build"`
	Devices int     `json:"devices"`
	Share   float64 `json:"share"`
	// Installs is how many devices changed to this build that day (an install event: a check-in
	// reporting another build than the device's previous one).
	Installs int `json:"installs"`
}

// AdoptionDay is an app's active devices on a day and how they split across builds. A device
// that ran two builds on one day (it updated) counts for both.
type AdoptionDay struct {
	Day     string       `json:"day"`
	Devices int          `json:"devices"`
	Builds  []BuildShare `json:"builds"`
}

// BuildReach is how fast a build spread: the first day of the range it ran on a device, and how
// many days after that it first ran on at least 50% and 90% of the app's active devices of a
// day (nil: not within the range).
type BuildReach struct {
	Build     string `json:"build"`
	FirstSeen string `json:"first_seen"`
	DaysTo50  *int   `json:"days_to_50"`
	DaysTo90  *int   `json:"days_to_90"`
}

// Reach derives each build's BuildReach from an Adoption series.
func Reach(days []AdoptionDay) []BuildReach {
	byBuild := map[string]*BuildReach{}
	var order []string
	for i, d := range days {
		for _, b := range d.Builds {
			br := byBuild[b.Build]
			if br == nil {
				br = &BuildReach{Build: b.Build, FirstSeen: d.Day}
				byBuild[b.Build] = br
				order = append(order, b.Build)
			}
			first, _ := time.Parse(time.DateOnly, br.FirstSeen)
			at, _ := time.Parse(time.DateOnly, days[i].Day)
			n := int(at.Sub(first).Hours() / 24)
			if br.DaysTo50 == nil && b.Share >= 0.5 {
				br.DaysTo50 = &n
			}
			if br.DaysTo90 == nil && b.Share >= 0.9 {
				br.DaysTo90 = &n
			}
		}
	}
	out := make([]BuildReach, 0, len(order))
	for _, b := range order {
		out = append(out, *byBuild[b])
	}
	return out
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
				installs := 0
				if in := s.rollups.get(d, "install:"+app+"/"+b); in != nil {
					installs = int(in.devices.GetCardinality())
				}
				out[i].Builds = append(out[i].Builds, BuildShare{Build: b, Devices: n, Share: share, Installs: installs})
			}
		}
		sort.Slice(out[i].Builds, func(x, y int) bool { return out[i].Builds[x].Build < out[i].Builds[y].Build })
	}
	return out, nil
}
