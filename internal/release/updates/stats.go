package updates

import (
	"cmp"
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// Stats are the numbers ops read about one app.
type Stats struct {
	AppID    string         `json:"app_id"`
	Channels []ChannelStats `json:"channels"`
}

// ChannelStats are one channel's numbers.
type ChannelStats struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	// Members counts explicit members (invited or opted in); Cap is 0 when uncapped, and
	// SeatsLeft is nil then.
	Members   int            `json:"members"`
	Cap       int            `json:"cap"`
	SeatsLeft *int           `json:"seats_left"`
	Builds    []BuildStats   `json:"builds"`
	Rollouts  []RolloutStats `json:"rollouts"`
}

// BuildStats count one build: distinct users who downloaded it (on any channel) and devices on
// this channel that last checked in with it.
type BuildStats struct {
	Platform  release.Platform `json:"platform"`
	Build     int64            `json:"build"`
	BuildID   *string          `json:"build_id"` // nil for a build number devices report but nobody uploaded
	Version   *string          `json:"version"`
	Downloads int              `json:"downloads"`
	Devices   int              `json:"devices"`
}

// RolloutStats is the progress of one release that is not completed, or the newest completed
// one: of the channel's devices whose user is in the release's cohort, how many run its build
// or newer.
type RolloutStats struct {
	Platform  release.Platform `json:"platform"`
	ReleaseID string           `json:"release_id"`
	BuildID   string           `json:"build_id"`
	Build     int64            `json:"build"`
	State     rollout.State    `json:"state"`
	Percent   float64          `json:"percent"`
	Eligible  int              `json:"eligible"`
	Updated   int              `json:"updated"`
	Share     float64          `json:"share"`
}

// deviceRow is what the numbers need of a device in the registry.
type deviceRow struct {
	UserID   string
	DeviceID string
	Platform string
	Build    int64
	Channel  string
	LastSeen time.Time
}

// Stats returns an app's numbers, on one platform or ("") both. It returns forbidden unless the
// caller holds ops or admin, invalid for an unknown platform and not_found for an unknown app.
// It scans the app's downloads and the device registry: an ops screen, not a hot path.
func (s *Service) Stats(ctx context.Context, p *auth.Principal, appID string, platform release.Platform) (*Stats, error) {
	if err := auth.RequireRole(p, auth.RoleOps, auth.RoleAdmin); err != nil {
		return nil, err
	}
	if platform != "" && platformIndex(platform) < 0 {
		return nil, apperr.Field("platform", "platform must be android or ios")
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return nil, err
	}
	a := snap.apps[appID]
	if a == nil {
		return nil, apperr.New(apperr.NotFound, "app not found")
	}
	downloads, err := s.countDownloads(ctx, appID)
	if err != nil {
		return nil, err
	}
	devices, err := s.appDevices(ctx, a, platform)
	if err != nil {
		return nil, err
	}
	out := &Stats{AppID: appID, Channels: []ChannelStats{}}
	for _, c := range a.channels {
		out.Channels = append(out.Channels, channelStats(a, c, platform, downloads, devices))
	}
	slices.SortFunc(out.Channels, func(x, y ChannelStats) int { return cmp.Compare(x.Channel, y.Channel) })
	return out, nil
}

func (s *Service) countDownloads(ctx context.Context, appID string) (map[string]int, error) {
	rows, err := mongodb.FindAll[release.Download](ctx, s.DB.Collection(downloadsColl), bson.D{{Key: "app_id", Value: appID}}, "downloads")
	if err != nil {
		return nil, err
	}
	n := make(map[string]int)
	for _, d := range rows {
		n[d.BuildID]++
	}
	return n, nil
}

// appDevices returns the devices running the app, which check in with the app's slug or its
// package name / bundle id.
func (s *Service) appDevices(ctx context.Context, a *appView, platform release.Platform) ([]deviceRow, error) {
	ids := []string{a.app.ID}
	if a.app.AndroidPackage != "" {
		ids = append(ids, a.app.AndroidPackage)
	}
	if a.app.IOSBundleID != "" {
		ids = append(ids, a.app.IOSBundleID)
	}
	devices, err := s.Devices.ByApp(ctx, ids, string(platform))
	if err != nil {
		return nil, err
	}
	rows := make([]deviceRow, len(devices))
	for i, d := range devices {
		rows[i] = deviceRow{UserID: d.UserID, DeviceID: d.DeviceID, Platform: d.Platform, Build: d.BuildNumber, Channel: d.Channel, LastSeen: d.LastSeenAt}
	}
	return rows, nil
}
