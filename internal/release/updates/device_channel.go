package updates

import (
	"context"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
)

// DeviceChannel is the release channel a device of p's counts in: the channel its app reports
// when that is stable or p is a member of it in the app the device runs (named by the app's id,
// Android package or iOS bundle id, as devices check in), else stable, which is also what the
// update check answers a non-member. The directory stores it at every check-in, and channel
// audiences (announcements, pushes) and the ops numbers read it. Before, a device's word was
// taken: any employee who checked in with "alpha" read alpha-only announcements and got their
// pushes. It returns unavailable when the first load of the view fails.
func (s *Service) DeviceChannel(ctx context.Context, p *auth.Principal, appID, channel string) (string, error) {
	if channel == "" || channel == StableChannel {
		return StableChannel, nil
	}
	snap, err := s.View.Current(ctx)
	if err != nil {
		return "", err
	}
	for _, a := range snap.apps {
		if appID != a.app.ID && appID != a.app.AndroidPackage && appID != a.app.IOSBundleID {
			continue
		}
		if c := a.channels[channel]; c != nil && c.isMember(p) {
			return channel, nil
		}
	}
	return StableChannel, nil
}

// HighestBuild is the newest build of the app released on a channel p is a member of: on the
// platform appID names (its Android package or iOS bundle id), or on either for the app's id.
// What's-new cards of later builds describe what p's channels have not shipped (an alpha's
// features, to an employee on stable). The two platforms number their builds apart: before, an
// iOS app was bounded by Android's newest build, and read cards of iOS builds not yet released. known is false when no app of that name is registered: its builds are not
// distributed here, and nothing bounds them. It returns unavailable when the first load of the
// view fails.
func (s *Service) HighestBuild(ctx context.Context, p *auth.Principal, appID string) (build int64, known bool, err error) {
	snap, err := s.View.Current(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, a := range snap.apps {
		if appID != a.app.ID && appID != a.app.AndroidPackage && appID != a.app.IOSBundleID {
			continue
		}
		known = true
		only := -1 // both platforms: the app's id, or a package and bundle id that are the same
		if android, ios := appID == a.app.AndroidPackage, appID == a.app.IOSBundleID; appID != a.app.ID && android != ios {
			only = platformIndex(release.IOS)
			if android {
				only = platformIndex(release.Android)
			}
		}
		for _, c := range a.channels {
			if !c.isMember(p) {
				continue
			}
			for pi, t := range c.tracks {
				if t == nil || (only >= 0 && pi != only) {
					continue
				}
				for _, r := range t.stored {
					build = max(build, r.Build)
				}
			}
		}
	}
	return build, known, nil
}
