package updates

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// FleetDevice is one device running an app, with the forced-update floor of its track (its
// platform and channel; 0 when the track has none).
type FleetDevice struct {
	UserID   string
	DeviceID string
	Platform string
	Channel  string
	Build    int64
	MinBuild int64
	LastSeen time.Time
}

// Fleet returns the devices that last checked in with the app, each with its track's minimum
// build, for the usage numbers (devices stuck below the floor). The caller checks the reader's
// role. It returns not_found for an unknown app and unavailable when the database fails.
func (s *Service) Fleet(ctx context.Context, appID string) ([]FleetDevice, error) {
	a, devices, err := s.appAndDevices(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := make([]FleetDevice, 0, len(devices))
	for _, d := range devices {
		fd := FleetDevice{UserID: d.UserID, DeviceID: d.DeviceID, Platform: d.Platform, Channel: cmp.Or(d.Channel, StableChannel),
			Build: d.Build, LastSeen: d.LastSeen}
		if pi := platformIndex(release.Platform(d.Platform)); pi >= 0 {
			if c := a.channels[fd.Channel]; c != nil && c.tracks[pi] != nil {
				fd.MinBuild = c.tracks[pi].track.MinBuild
			}
		}
		out = append(out, fd)
	}
	return out, nil
}

// appAndDevices returns the app's entry in the current snapshot and the devices that last
// checked in with it: not_found for an unknown app, unavailable when the database fails.
func (s *Service) appAndDevices(ctx context.Context, appID string) (*appView, []deviceRow, error) {
	snap, err := s.View.Current(ctx)
	if err != nil {
		return nil, nil, err
	}
	a := snap.apps[appID]
	if a == nil {
		return nil, nil, &apperr.Error{Code: apperr.NotFound, Field: "app", Message: fmt.Sprintf("app %q not found", appID)}
	}
	devices, err := s.appDevices(ctx, a, "")
	if err != nil {
		return nil, nil, err
	}
	return a, devices, nil
}

// DeviceRef names one user's device.
type DeviceRef struct{ UserID, DeviceID string }

// StagedRelease is one release of an app with the devices it targets today: the devices of
// its platform and channel whose user is in its cohort at its percentage (every one of them
// once completed).
type StagedRelease struct {
	ReleaseID   string
	Platform    release.Platform
	Channel     string
	Build       int64
	Version     string
	Percent     float64
	State       rollout.State
	PublishedAt time.Time
	Eligible    []DeviceRef
}

// StagedReleases lists every release of the app's tracks with its eligible devices, for the
// usage numbers (days to reach 50% and 90% of them). The caller checks the reader's role. It
// returns not_found for an unknown app and unavailable when the database fails.
func (s *Service) StagedReleases(ctx context.Context, appID string) ([]StagedRelease, error) {
	a, devices, err := s.appAndDevices(ctx, appID)
	if err != nil {
		return nil, err
	}
	var out []StagedRelease
	for _, c := range a.channels {
		for pi, t := range c.tracks {
			if t == nil {
				continue
			}
			pf := []release.Platform{release.Android, release.IOS}[pi]
			for i, r := range t.rollout.Releases {
				sr := StagedRelease{ReleaseID: r.ID, Platform: pf, Channel: c.ch.Name, Build: r.Build, Version: t.builds[i].build.Version,
					Percent: r.Percent, State: r.State, PublishedAt: t.stored[i].PublishedAt, Eligible: []DeviceRef{}}
				for _, d := range devices {
					if release.Platform(d.Platform) != pf || cmp.Or(d.Channel, StableChannel) != c.ch.Name {
						continue
					}
					if r.State != rollout.Completed && !rollout.InCohort(r.Seed, d.UserID, r.Percent) {
						continue
					}
					sr.Eligible = append(sr.Eligible, DeviceRef{UserID: d.UserID, DeviceID: d.DeviceID})
				}
				out = append(out, sr)
			}
		}
	}
	return out, nil
}
