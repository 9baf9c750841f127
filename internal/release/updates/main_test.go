package updates_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// published is the moment every fixture release was published.
var published = time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)

const (
	appID = "portal"
	// stagedSeed is the seed of the fixture release of build 110 (seeds are "seed-<build>").
	stagedSeed = "seed-110"
	// tester is the beta channel's one explicit member.
	tester = "tester"
)

// fixture builds release data in memory: app "portal" on both platforms with the standard
// channels, alpha for the IT department, beta by invitation (tester is a member), and a custom
// channel "field" for approvers.
type fixture struct {
	d updates.Data
}

func newFixture() *fixture {
	f := &fixture{}
	f.d.Apps = []release.App{{ID: appID, Name: "Portal", AndroidPackage: "com.example.portal", IOSBundleID: "com.example.portal"}}
	for _, c := range []release.Channel{
		{Name: "stable", Kind: release.KindStable},
		{Name: "beta", Kind: release.KindBeta},
		{Name: "alpha", Kind: release.KindAlpha, Departments: []string{"IT"}},
		{Name: "field", Kind: release.KindCustom, Roles: []string{"approver"}},
	} {
		c.ID, c.AppID = appID+"/"+c.Name, appID
		f.d.Channels = append(f.d.Channels, c)
	}
	f.d.Members = []release.Member{{ID: appID + "/beta/" + tester, AppID: appID, Channel: "beta", UserID: tester, Source: "invite"}}
	return f
}

// build adds (once) the build n of platform pf and returns its public id.
func (f *fixture) build(pf release.Platform, n int64) string {
	pub := string(pf) + "-" + strconv.FormatInt(n, 10)
	for _, b := range f.d.Builds {
		if b.PublicID == pub {
			return pub
		}
	}
	f.d.Builds = append(f.d.Builds, release.Build{
		ID: appID + "/" + string(pf) + "/" + strconv.FormatInt(n, 10), PublicID: pub, AppID: appID, Platform: pf,
		Build: n, Version: fmt.Sprintf("1.%d", n), PackageID: "com.example.portal", Size: 1000 + n,
		SHA256: fmt.Sprintf("%064x", n), ObjectKey: fmt.Sprintf("builds/%s/%d", pf, n),
		Notes:     map[string]string{"en": fmt.Sprintf("Build %d", n), "zh-CN": fmt.Sprintf("版本 %d", n)},
		NotesHTML: map[string]string{"en": fmt.Sprintf("<p>Build %d</p>", n), "zh-CN": fmt.Sprintf("<p>版本 %d</p>", n)},
	})
	return pub
}

// track returns the track of channel and platform, creating it.
func (f *fixture) track(channel string, pf release.Platform) *release.Track {
	id := appID + "/" + string(pf) + "/" + channel
	for i := range f.d.Tracks {
		if f.d.Tracks[i].ID == id {
			return &f.d.Tracks[i]
		}
	}
	f.d.Tracks = append(f.d.Tracks, release.Track{ID: id, AppID: appID, Platform: pf, Channel: channel})
	return &f.d.Tracks[len(f.d.Tracks)-1]
}

// release publishes build n (seed "seed-<n>") on a channel.
func (f *fixture) release(channel string, pf release.Platform, n int64, state rollout.State, percent float64) *fixture {
	pub := f.build(pf, n)
	t := f.track(channel, pf)
	t.Releases = append(t.Releases, release.Release{
		ID: "rel-" + channel + "-" + pub, BuildID: pub, Build: n, Version: fmt.Sprintf("1.%d", n),
		Percent: percent, Seed: "seed-" + strconv.FormatInt(n, 10), State: state, PublishedAt: published,
	})
	return f
}

func (f *fixture) minBuild(channel string, pf release.Platform, n int64) *fixture {
	f.track(channel, pf).MinBuild = n
	return f
}

func (f *fixture) snapshot() *updates.Snapshot { return updates.NewSnapshot(f.d) }

// user returns an employee of the Sales department with extra roles.
func user(id string, roles ...auth.Role) *auth.Principal {
	return &auth.Principal{UserID: id, Roles: append([]auth.Role{auth.RoleEmployee}, roles...), Department: "Sales"}
}

// userWhere returns the first of u0, u1, ... whose membership in the 20% cohort of stagedSeed is
// in, so that tests cover both sides of a staged rollout without hard-coding hash output.
func userWhere(t testing.TB, in bool) string {
	t.Helper()
	for i := range 1000 {
		u := fmt.Sprintf("u%d", i)
		if rollout.InCohort(stagedSeed, u, 20) == in {
			return u
		}
	}
	t.Fatalf("no user with InCohort = %v among 1000", in)
	return ""
}
