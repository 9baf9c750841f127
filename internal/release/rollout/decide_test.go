package rollout_test

import (
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/release/rollout"
)

const stagedSeed = "seed-110"

// userWhere returns the first of u0, u1, ... whose membership in the 20% cohort of stagedSeed is
// in, so that the matrix covers both sides of a staged rollout without hard-coding hash output.
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

func rel(id string, build int64, state rollout.State, percent float64) rollout.Release {
	return rollout.Release{ID: id, Build: build, Version: fmt.Sprintf("1.%d", build), Seed: "seed-" + id, State: state, Percent: percent}
}

func TestDecide(t *testing.T) {
	inCohort, outOfCohort := userWhere(t, true), userWhere(t, false)
	completed100 := rel("100", 100, rollout.Completed, 100)
	staged110 := rel("110", 110, rollout.Active, 20)
	halted110 := rel("110", 110, rollout.Halted, 20)
	haltedFull110 := rel("110", 110, rollout.Halted, 100)
	active120 := rel("120", 120, rollout.Active, 100)

	type want struct {
		typ            rollout.UpdateType
		releaseID      string // "" means no release offered
		installedNewer bool
		unsatisfiable  bool
	}
	tests := []struct {
		name      string
		releases  []rollout.Release
		minBuild  int64
		user      string
		installed int64
		want      want
	}{
		{"offers a newer completed build as optional", []rollout.Release{completed100}, 0, outOfCohort, 90, want{rollout.Optional, "100", false, false}},
		{"tells a device on the offered build there is nothing to do", []rollout.Release{completed100}, 0, outOfCohort, 100, want{rollout.None, "100", false, false}},
		{"never downgrades a device newer than anything offered", []rollout.Release{completed100}, 0, outOfCohort, 105, want{rollout.None, "100", true, false}},
		{"offers a staged build to a user in its cohort", []rollout.Release{staged110, completed100}, 0, inCohort, 90, want{rollout.Optional, "110", false, false}},
		{"offers the previous build to a user outside the cohort", []rollout.Release{staged110, completed100}, 0, outOfCohort, 90, want{rollout.Optional, "100", false, false}},
		{"leaves a user outside the cohort on the previous build alone", []rollout.Release{staged110, completed100}, 0, outOfCohort, 100, want{rollout.None, "100", false, false}},
		{"leaves a user in the cohort on the staged build alone", []rollout.Release{staged110, completed100}, 0, inCohort, 110, want{rollout.None, "110", false, false}},
		{"flags a sideloaded staged build outside the cohort as newer", []rollout.Release{staged110, completed100}, 0, outOfCohort, 110, want{rollout.None, "100", true, false}},
		{"skips a halted newest release for users in its cohort", []rollout.Release{halted110, completed100}, 0, inCohort, 90, want{rollout.Optional, "100", false, false}},
		{"serves the previous release again when one at 100% is halted", []rollout.Release{haltedFull110, completed100}, 0, inCohort, 90, want{rollout.Optional, "100", false, false}},
		{"lets devices keep a halted build they already installed", []rollout.Release{haltedFull110, completed100}, 0, inCohort, 110, want{rollout.None, "100", true, false}},
		{"offers an active release at 100% to everybody", []rollout.Release{completed100, active120}, 0, outOfCohort, 100, want{rollout.Optional, "120", false, false}},
		{"treats a completed release as 100% whatever its percent", []rollout.Release{rel("110", 110, rollout.Completed, 0.0001), completed100}, 0, outOfCohort, 100, want{rollout.Optional, "110", false, false}},
		{"picks the newest build whatever the order of releases", []rollout.Release{completed100, active120, staged110}, 0, outOfCohort, 90, want{rollout.Optional, "120", false, false}},
		{"picks the first of two releases with the same build", []rollout.Release{rel("a", 100, rollout.Completed, 100), rel("b", 100, rollout.Completed, 100)}, 0, outOfCohort, 90, want{rollout.Optional, "a", false, false}},
		{"requires an update below the minimum build", []rollout.Release{completed100}, 100, outOfCohort, 90, want{rollout.Required, "100", false, false}},
		{"requires the staged build in the cohort even when it is the only newer one", []rollout.Release{staged110, completed100}, 105, inCohort, 100, want{rollout.Required, "110", false, false}},
		{"keeps an update optional at exactly the minimum build", []rollout.Release{staged110, completed100}, 100, inCohort, 100, want{rollout.Optional, "110", false, false}},
		{"requires the offered build but flags that it is still below the minimum", []rollout.Release{staged110, completed100}, 110, outOfCohort, 90, want{rollout.Required, "100", false, true}},
		{"reports an unsatisfiable minimum when nothing newer is offered", []rollout.Release{staged110, completed100}, 110, outOfCohort, 100, want{rollout.None, "100", false, true}},
		{"reports an unsatisfiable minimum for a device newer than everything offered", []rollout.Release{completed100}, 120, outOfCohort, 105, want{rollout.None, "100", true, true}},
		{"reports an unsatisfiable minimum when every release is halted", []rollout.Release{halted110}, 110, inCohort, 100, want{rollout.None, "", false, true}},
		{"offers nothing on an empty track", nil, 0, inCohort, 100, want{rollout.None, "", false, false}},
		{"offers nothing when every release is halted", []rollout.Release{haltedFull110}, 0, inCohort, 100, want{rollout.None, "", false, false}},
		{"offers nothing from an active release at 0%", []rollout.Release{rel("110", 110, rollout.Active, 0)}, 0, inCohort, 100, want{rollout.None, "", false, false}},
		{"offers nothing from a release in an unknown state", []rollout.Release{rel("110", 110, "", 100)}, 0, inCohort, 100, want{rollout.None, "", false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			track := rollout.Track{Releases: tt.releases, MinBuild: tt.minBuild}
			d := rollout.Decide(track, tt.user, tt.installed)
			got := want{typ: d.Type, installedNewer: d.InstalledNewer, unsatisfiable: d.Unsatisfiable}
			if d.Release != nil {
				got.releaseID = d.Release.ID
				if !pointsInto(d.Release, tt.releases) {
					t.Errorf("Decision.Release does not point into Track.Releases")
				}
			}
			if got != tt.want {
				t.Errorf("Decide(user %s, installed %d) = %+v, want %+v", tt.user, tt.installed, got, tt.want)
			}
		})
	}
}

func pointsInto(r *rollout.Release, releases []rollout.Release) bool {
	for i := range releases {
		if r == &releases[i] {
			return true
		}
	}
	return false
}

func TestUpdateTypeString(t *testing.T) {
	for typ, want := range map[rollout.UpdateType]string{rollout.None: "none", rollout.Optional: "optional", rollout.Required: "required"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", typ, got, want)
		}
	}
}

// BenchmarkDecide evaluates a typical track: the previous release completed, the current one
// staged at 20%, and an older one kept for history.
func BenchmarkDecide(b *testing.B) {
	track := rollout.Track{
		Releases: []rollout.Release{
			rel("110", 110, rollout.Active, 20),
			rel("100", 100, rollout.Completed, 100),
			rel("90", 90, rollout.Completed, 100),
		},
		MinBuild: 95,
	}
	users := make([]string, 1024)
	for i := range users {
		users[i] = fmt.Sprintf("%024x", i*7919)
	}
	b.ReportAllocs()
	var sink rollout.Decision
	i := 0
	for b.Loop() {
		sink = rollout.Decide(track, users[i%len(users)], 100)
		i++
	}
	_ = sink
}

func BenchmarkInCohort(b *testing.B) {
	b.ReportAllocs()
	var sink bool
	for b.Loop() {
		sink = rollout.InCohort("65f1c0ffee0123456789abcd", "65f1c0ffee0123456789abce", 20)
	}
	_ = sink
}
