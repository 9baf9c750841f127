package updates

import (
	"cmp"
	"slices"

	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

type buildKey struct {
	platform release.Platform
	build    int64
}

// channelStats computes one channel's numbers from the snapshot, the download counts by build
// _id and the app's devices. A device counts for the channel it last reported ("" is stable).
func channelStats(a *appView, c *channelView, platform release.Platform, downloads map[string]int, devices []deviceRow) ChannelStats {
	cs := ChannelStats{Channel: c.ch.Name, Kind: string(c.ch.Kind), Members: len(c.members), Cap: c.ch.Cap,
		Builds: []BuildStats{}, Rollouts: []RolloutStats{}}
	if c.ch.Cap > 0 {
		left := max(c.ch.Cap-len(c.members), 0)
		cs.SeatsLeft = &left
	}
	var onChannel []deviceRow
	for _, d := range devices {
		if cmp.Or(d.Channel, StableChannel) == c.ch.Name {
			onChannel = append(onChannel, d)
		}
	}

	builds := map[buildKey]*BuildStats{}
	entry := func(k buildKey) *BuildStats {
		if b := builds[k]; b != nil {
			return b
		}
		b := &BuildStats{Platform: k.platform, Build: k.build}
		builds[k] = b
		return b
	}
	for pi, t := range c.tracks {
		pf := []release.Platform{release.Android, release.IOS}[pi]
		if t == nil || (platform != "" && platform != pf) {
			continue
		}
		var newestCompleted = -1
		for i, r := range t.rollout.Releases {
			b := t.builds[i].build
			e := entry(buildKey{pf, b.Build})
			e.BuildID, e.Version, e.Downloads = &b.PublicID, &b.Version, downloads[b.ID]
			if r.State == rollout.Completed && (newestCompleted < 0 || r.Build > t.rollout.Releases[newestCompleted].Build) {
				newestCompleted = i
			}
		}
		for i, r := range t.rollout.Releases {
			if r.State != rollout.Completed || i == newestCompleted {
				cs.Rollouts = append(cs.Rollouts, progress(pf, r, t.builds[i].build, onChannel))
			}
		}
	}
	for _, d := range onChannel {
		pf := release.Platform(d.Platform)
		if platformIndex(pf) < 0 {
			continue
		}
		e := entry(buildKey{pf, d.Build})
		if e.BuildID == nil {
			if b := a.buildNumbered(pf, d.Build); b != nil {
				e.BuildID, e.Version, e.Downloads = &b.PublicID, &b.Version, downloads[b.ID]
			}
		}
		e.Devices++
	}
	for _, b := range builds {
		cs.Builds = append(cs.Builds, *b)
	}
	slices.SortFunc(cs.Builds, func(x, y BuildStats) int {
		return cmp.Or(cmp.Compare(x.Platform, y.Platform), cmp.Compare(y.Build, x.Build))
	})
	slices.SortFunc(cs.Rollouts, func(x, y RolloutStats) int {
		return cmp.Or(cmp.Compare(x.Platform, y.Platform), cmp.Compare(y.Build, x.Build))
	})
	return cs
}

// progress counts the devices of one platform on the channel whose user the release reaches
// (its cohort, or everybody once completed), and those of them already on its build or newer.
func progress(pf release.Platform, r rollout.Release, b *release.Build, devices []deviceRow) RolloutStats {
	rs := RolloutStats{Platform: pf, ReleaseID: r.ID, BuildID: b.PublicID, Build: r.Build, State: r.State, Percent: r.Percent}
	for _, d := range devices {
		if release.Platform(d.Platform) != pf {
			continue
		}
		if r.State != rollout.Completed && !rollout.InCohort(r.Seed, d.UserID, r.Percent) {
			continue
		}
		rs.Eligible++
		if d.Build >= r.Build {
			rs.Updated++
		}
	}
	if rs.Eligible > 0 {
		rs.Share = float64(rs.Updated) / float64(rs.Eligible)
	}
	return rs
}

// buildNumbered finds the app's uploaded build with this platform and number.
func (a *appView) buildNumbered(pf release.Platform, n int64) *release.Build {
	for _, b := range a.builds {
		if b.build.Platform == pf && b.build.Build == n {
			return b.build
		}
	}
	return nil
}
