// Package updates serves the hot, read-only side of app distribution: the update check every
// app start makes, the iOS install manifest, build downloads, the install page's data and the
// numbers for ops. Everything is answered from an immutable in-memory Snapshot of the release
// collections, so a steady-state update check reads no database at all; the View replaces the
// snapshot whenever the release service's generation token changes.
package updates

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// StableChannel is the channel everybody is in, and the one answered when none is asked for.
const StableChannel = "stable"

// Snapshot is an immutable copy of apps, channels, explicit members, tracks and the builds they
// release, indexed for the update check. Build it with NewSnapshot; never modify one after.
type Snapshot struct {
	token string // the generation token read before the collections were loaded
	apps  map[string]*appView
}

type appView struct {
	app      release.App
	channels map[string]*channelView
	// builds indexes every build of the app by its public id and by its _id.
	builds map[string]*buildView
}

type channelView struct {
	ch      release.Channel
	members map[string]bool // explicit members by user id
	tracks  [2]*trackView   // indexed by platformIndex
}

// trackView is a track with only the releases whose build still exists, converted once for
// rollout.Decide; builds[i] is the build of rollout.Releases[i].
type trackView struct {
	track   *release.Track
	rollout rollout.Track
	stored  []*release.Release
	builds  []*buildView
}

// buildView is a build plus the signed URLs cached for it. The caches live and die with the
// snapshot, so a reload (any release change) starts them afresh.
type buildView struct {
	build       *release.Build
	downloadURL atomic.Pointer[signedURL]
	installURL  atomic.Pointer[signedURL]
	answers     sync.Map                      // answerKey -> *encodedAnswer: CheckUpdateJSON's encoded answers
	lastAnswer  atomic.Pointer[encodedAnswer] // the one encoded last, tried before answers
}

// Data is what a snapshot is built from: the release service's collections as loaded.
type Data struct {
	Token    string
	Apps     []release.App
	Channels []release.Channel
	Members  []release.Member
	Builds   []release.Build
	Tracks   []release.Track
}

// NewSnapshot indexes d. Channels, members, builds and tracks of unknown apps are ignored, and so
// are releases whose build is gone (retention deleted it): nothing can be installed from them.
func NewSnapshot(d Data) *Snapshot {
	s := &Snapshot{token: d.Token, apps: make(map[string]*appView, len(d.Apps))}
	for i := range d.Apps {
		a := &d.Apps[i]
		s.apps[a.ID] = &appView{app: *a, channels: map[string]*channelView{}, builds: map[string]*buildView{}}
	}
	for i := range d.Channels {
		c := &d.Channels[i]
		if a := s.apps[c.AppID]; a != nil {
			a.channels[c.Name] = &channelView{ch: *c, members: map[string]bool{}}
		}
	}
	for i := range d.Members {
		m := &d.Members[i]
		if c := s.channel(m.AppID, m.Channel); c != nil {
			c.members[m.UserID] = true
		}
	}
	for i := range d.Builds {
		b := &d.Builds[i]
		if a := s.apps[b.AppID]; a != nil {
			bv := &buildView{build: b}
			a.builds[b.PublicID] = bv
			a.builds[b.ID] = bv
		}
	}
	for i := range d.Tracks {
		t := &d.Tracks[i]
		c, pi := s.channel(t.AppID, t.Channel), platformIndex(t.Platform)
		if c == nil || pi < 0 {
			continue
		}
		c.tracks[pi] = newTrackView(t, s.apps[t.AppID])
	}
	return s
}

func newTrackView(t *release.Track, a *appView) *trackView {
	tv := &trackView{track: t, rollout: rollout.Track{MinBuild: t.MinBuild}}
	for i := range t.Releases {
		r := &t.Releases[i]
		b := a.builds[r.BuildID]
		if b == nil || b.build.Platform != t.Platform {
			continue
		}
		tv.rollout.Releases = append(tv.rollout.Releases, rollout.Release{
			ID: r.ID, Build: r.Build, Version: r.Version, Percent: r.Percent, Seed: r.Seed,
			State: r.State, PublishedAt: r.PublishedAt,
		})
		tv.stored = append(tv.stored, r)
		tv.builds = append(tv.builds, b)
	}
	return tv
}

func (s *Snapshot) channel(appID, name string) *channelView {
	if a := s.apps[appID]; a != nil {
		return a.channels[name]
	}
	return nil
}

// Token is the generation token the snapshot was loaded at.
func (s *Snapshot) Token() string { return s.token }

// platformIndex maps a platform to its slot in channelView.tracks, or -1.
func platformIndex(p release.Platform) int {
	switch p {
	case release.Android:
		return 0
	case release.IOS:
		return 1
	}
	return -1
}

// supports reports whether the app has an identity on platform p.
func (a *appView) supports(p release.Platform) bool {
	switch p {
	case release.Android:
		return a.app.AndroidPackage != ""
	case release.IOS:
		return a.app.IOSBundleID != ""
	}
	return false
}

// isMember applies the membership rule: everybody is in stable; explicit members are in their
// channel; alpha and custom channels also take users with one of their roles or departments.
func (c *channelView) isMember(p *auth.Principal) bool {
	if c.ch.Kind == release.KindStable || c.ch.Name == StableChannel {
		return true
	}
	if p == nil {
		return false
	}
	if c.members[p.UserID] {
		return true
	}
	if c.ch.Kind != release.KindAlpha && c.ch.Kind != release.KindCustom {
		return false
	}
	if p.Department != "" && slices.Contains(c.ch.Departments, p.Department) {
		return true
	}
	for _, r := range p.Roles {
		if slices.Contains(c.ch.Roles, string(r)) {
			return true
		}
	}
	return false
}
