package analytics

import (
	"context"
	"sort"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// StuckActive is how recently a device must have checked in to count as active.
const StuckActive = 30 * 24 * time.Hour

// StuckGroup counts one platform and channel of an app: its active devices and those of them
// whose last reported build is below the track's minimum build.
type StuckGroup struct {
	Platform string `json:"platform"`
	Channel  string `json:"channel"`
	MinBuild int64  `json:"min_build"`
	Active   int    `json:"active"`
	Stuck    int    `json:"stuck"`
}

// StuckDevice is one active device below its track's minimum build.
type StuckDevice struct {
	UserID     string    `json:"user_id"`
	DeviceID   string    `json:"device_id"`
	Department string    `json:"department"`
	Platform   string    `json:"platform"`
	Channel    string    `json:"channel"`
	Build      int64     `json:"build"`
	MinBuild   int64     `json:"min_build"`
	LastSeen   time.Time `json:"last_seen_at"`
}

// Stuck counts, per platform and channel, the app's active devices (checked in within
// StuckActive) and those whose last reported build is below the minimum build, and lists the
// stuck ones of platform ("" = all) from offset, limit at a time, longest unseen last. It
// returns forbidden for callers other than ops and admins, invalid or not_found naming the
// parameter, and unavailable when the release service is not wired or the database fails.
func (s *Service) Stuck(ctx context.Context, p *auth.Principal, app, platform string, offset, limit int) ([]StuckGroup, []StuckDevice, error) {
	if err := canRead(p); err != nil {
		return nil, nil, err
	}
	if app == "" || len(app) > 64 {
		return nil, nil, apperr.Field("app", "app must be an app's id")
	}
	if platform != "" && platform != "android" && platform != "ios" {
		return nil, nil, apperr.Field("platform", "platform must be android or ios")
	}
	if s.Releases == nil {
		return nil, nil, apperr.New(apperr.Unavailable, "release numbers are not available")
	}
	fleet, err := s.Releases.Fleet(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	since := s.Now.Stored().Add(-StuckActive)
	groups := map[[2]string]*StuckGroup{}
	var stuck []StuckDevice
	for _, d := range fleet {
		if d.LastSeen.Before(since) || (d.Platform != "android" && d.Platform != "ios") {
			continue
		}
		k := [2]string{d.Platform, d.Channel}
		g := groups[k]
		if g == nil {
			g = &StuckGroup{Platform: d.Platform, Channel: d.Channel, MinBuild: d.MinBuild}
			groups[k] = g
		}
		g.Active++
		if d.Build < d.MinBuild {
			g.Stuck++
			if platform == "" || d.Platform == platform {
				stuck = append(stuck, StuckDevice{UserID: d.UserID, DeviceID: d.DeviceID, Platform: d.Platform, Channel: d.Channel,
					Build: d.Build, MinBuild: d.MinBuild, LastSeen: d.LastSeen})
			}
		}
	}
	out := make([]StuckGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Platform != out[j].Platform {
			return out[i].Platform < out[j].Platform
		}
		return out[i].Channel < out[j].Channel
	})
	sort.Slice(stuck, func(i, j int) bool {
		if !stuck[i].LastSeen.Equal(stuck[j].LastSeen) {
			return stuck[i].LastSeen.After(stuck[j].LastSeen)
		}
		if stuck[i].UserID != stuck[j].UserID {
			return stuck[i].UserID < stuck[j].UserID
		}
		return stuck[i].DeviceID < stuck[j].DeviceID
	})
	start := min(offset, len(stuck))
	page := stuck[start : start+min(limit, len(stuck)-start)] // offset+limit may overflow
	if len(page) > 0 && s.Members != nil {
		members, err := s.Members(ctx)
		if err != nil {
			return nil, nil, err
		}
		dept := make(map[string]string, len(members))
		for _, m := range members {
			dept[m.UserID] = m.Department
		}
		for i := range page {
			page[i].Department = dept[page[i].UserID]
		}
	}
	return out, page, nil
}
