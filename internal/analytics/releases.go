package analytics

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release/updates"
)

// Releases is the distribution side the adoption numbers read (updates.Service): each staged
// release with the devices it targets, and each device with its track's minimum build. Both
// return not_found for an unknown app and unavailable when the database fails.
type Releases interface {
	StagedReleases(ctx context.Context, appID string) ([]updates.StagedRelease, error)
	Fleet(ctx context.Context, appID string) ([]updates.FleetDevice, error)
}

// ReleaseReach is how fast one staged release reached the devices it targets.
type ReleaseReach struct {
	ReleaseID   string    `json:"release_id"`
	Platform    string    `json:"platform"`
	Channel     string    `json:"channel"`
	Build       int64     `json:"build"`
	Version     string    `json:"version"`
	Percent     float64   `json:"percent"`
	State       string    `json:"state"`
	PublishedAt time.Time `json:"published_at"`
	// Eligible counts the devices of the release's platform and channel whose user is in its
	// cohort today; Reached those of them that ran its build or a newer one since it was
	// published (app starts, update checks, installs), up to today.
	Eligible int     `json:"eligible"`
	Reached  int     `json:"reached"`
	Share    float64 `json:"share"`
	// DaysTo50 and DaysTo90 count UTC days from the publish day to the first day by which at
	// least 50% / 90% of the eligible devices had run it (nil: not yet).
	DaysTo50 *int `json:"days_to_50"`
	DaysTo90 *int `json:"days_to_90"`
}

// ReleaseAdoption answers, for each release of app's tracks, its reach among its eligible
// devices from its publish time until today (at most 400 days). It returns forbidden for
// callers other than ops and admins, invalid or not_found naming app, and unavailable when
// the release service is not wired or the database fails.
func (s *Service) ReleaseAdoption(ctx context.Context, p *auth.Principal, app string) ([]ReleaseReach, error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, err
	}
	if app == "" || len(app) > 64 {
		return nil, apperr.Field("app", "app must be an app's id")
	}
	if s.Releases == nil {
		return nil, apperr.New(apperr.Unavailable, "release numbers are not available")
	}
	staged, err := s.Releases.StagedReleases(ctx, app)
	if err != nil {
		return nil, err
	}
	today := s.Now.Stored().UTC().Truncate(24 * time.Hour)
	out := make([]ReleaseReach, 0, len(staged))
	for _, r := range staged {
		rr := ReleaseReach{ReleaseID: r.ReleaseID, Platform: string(r.Platform), Channel: r.Channel, Build: r.Build,
			Version: r.Version, Percent: r.Percent, State: string(r.State), PublishedAt: r.PublishedAt, Eligible: len(r.Eligible)}
		eligible := roaring.New()
		for _, d := range r.Eligible {
			if n, ok := s.numbers.lookup("d", s.pseudonym("d", d.UserID+"/"+d.DeviceID)); ok {
				eligible.Add(n)
			}
		}
		s.reach(&rr, app, eligible, r.PublishedAt.UTC().Truncate(24*time.Hour), today)
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].PublishedAt.Equal(out[j].PublishedAt) {
			return out[i].PublishedAt.After(out[j].PublishedAt)
		}
		return out[i].ReleaseID < out[j].ReleaseID
	})
	return out, nil
}

// reach walks the days from the publish day to today, adding the eligible devices that ran
// the release's build or a newer one.
func (s *Service) reach(rr *ReleaseReach, app string, eligible *roaring.Bitmap, from, to time.Time) {
	if from.Before(to.AddDate(0, 0, -400)) {
		from = to.AddDate(0, 0, -400)
	}
	prefix := "build:" + app + "/"
	reached := roaring.New()
	s.rollups.mu.RLock()
	defer s.rollups.mu.RUnlock()
	for day, i := from, 0; !day.After(to); day, i = day.AddDate(0, 0, 1), i+1 {
		for k, a := range s.rollups.days[dayOf(day)] {
			b, ok := strings.CutPrefix(k, prefix)
			if !ok {
				continue
			}
			if n, err := strconv.ParseInt(b, 10, 64); err != nil || n < rr.Build {
				continue
			}
			reached.Or(roaring.And(a.devices, eligible))
		}
		if rr.Eligible == 0 {
			continue
		}
		share := float64(reached.GetCardinality()) / float64(rr.Eligible)
		if rr.DaysTo50 == nil && share >= 0.5 {
			n := i
			rr.DaysTo50 = &n
		}
		if rr.DaysTo90 == nil && share >= 0.9 {
			n := i
			rr.DaysTo90 = &n
		}
	}
	rr.Reached = int(reached.GetCardinality())
	if rr.Eligible > 0 {
		rr.Share = float64(rr.Reached) / float64(rr.Eligible)
	}
}
