package updates

import (
	"regexp"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// validChannel is the shape of every channel name (alpha, beta, stable and custom ones).
var validChannel = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

// Query is one update check: the installed build of an app on a platform, and the channel the
// app believes it is on ("" means stable).
type Query struct {
	AppID    string
	Platform release.Platform
	Build    int64
	Channel  string
	// At is when the request arrived, if the caller read the clock (the API: fasthttp's read):
	// the check's time unless the Service has a clock of its own (clock.Func.At). Zero: the
	// Service's clock.
	At time.Time
}

// Result is the answer to a Query. Build and Release are nil when nothing is offered; they are
// set for None decisions too, naming the build that is current for the caller.
type Result struct {
	// Channel is the channel actually answered: the one asked for, or stable when the caller is
	// not a member of it (or stable offers a newer build, as Play's testing tracks do).
	Channel  string
	Decision rollout.Decision
	MinBuild int64
	Release  *release.Release
	Build    *release.Build

	build *buildView
	app   *appView
}

// Check decides what the caller's device should do. It returns invalid (with the field) for a
// bad platform, build or channel and not_found for an unknown app or a platform the app does not
// ship on. A channel the caller is not a member of (never joined, left the beta, or no such
// channel, which must look the same) is answered from stable. Check reads only memory.
func (s *Snapshot) Check(p *auth.Principal, q Query) (Result, error) {
	pi := platformIndex(q.Platform)
	switch {
	case pi < 0:
		return Result{}, apperr.Field("platform", "platform must be android or ios")
	case q.Build < 0:
		return Result{}, apperr.Field("build", "build must be a non-negative whole number")
	case q.Channel != "" && !validChannel.MatchString(q.Channel):
		return Result{}, apperr.Field("channel", "channel must be a channel name such as beta")
	}
	a := s.apps[q.AppID]
	if a == nil || !a.supports(q.Platform) {
		return Result{}, apperr.New(apperr.NotFound, "app not found")
	}
	userID := ""
	if p != nil {
		userID = p.UserID
	}
	stable := a.decide(StableChannel, pi, userID, q.Build)
	if q.Channel == "" || q.Channel == StableChannel {
		return stable, nil
	}
	c := a.channels[q.Channel]
	if c == nil || !c.isMember(p) {
		return stable, nil
	}
	asked := a.decide(q.Channel, pi, userID, q.Build)
	// A tester is offered the newer of their channel and stable, so a beta that stable overtook
	// never strands them on an old build.
	if asked.Release == nil || (stable.Release != nil && stable.Release.Build > asked.Release.Build) {
		return stable, nil
	}
	return asked, nil
}

// decide runs rollout.Decide on one channel's track of platform index pi.
func (a *appView) decide(channel string, pi int, userID string, installed int64) Result {
	res := Result{Channel: channel, app: a}
	c := a.channels[channel]
	if c == nil || c.tracks[pi] == nil {
		return res
	}
	t := c.tracks[pi]
	res.MinBuild = t.rollout.MinBuild
	res.Decision = rollout.Decide(t.rollout, userID, installed)
	for i := range t.rollout.Releases {
		if &t.rollout.Releases[i] == res.Decision.Release {
			res.Release, res.build = t.stored[i], t.builds[i]
			res.Build = res.build.build
			break
		}
	}
	return res
}

// offers reports whether build b is released on a channel the caller is a member of and offered
// to them there: completed, or active with them in its cohort. Halted releases offer nothing.
func (a *appView) offers(p *auth.Principal, b *buildView) bool {
	pi := platformIndex(b.build.Platform)
	if pi < 0 {
		return false
	}
	for _, c := range a.channels {
		t := c.tracks[pi]
		if t == nil || !c.isMember(p) {
			continue
		}
		for i, r := range t.rollout.Releases {
			if t.builds[i] != b {
				continue
			}
			if r.State == rollout.Completed || (r.State == rollout.Active && rollout.InCohort(r.Seed, p.UserID, r.Percent)) {
				return true
			}
		}
	}
	return false
}
