package updates_test

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

const (
	android = release.Android
	ios     = release.IOS
)

// outcome is what the matrix compares: the update type, the channel answered, the offered build
// (0 for none) and the two flags.
type outcome struct {
	typ            rollout.UpdateType
	channel        string
	build          int64
	installedNewer bool
	unsatisfiable  bool
}

func outcomeOf(r updates.Result) outcome {
	o := outcome{typ: r.Decision.Type, channel: r.Channel, installedNewer: r.Decision.InstalledNewer, unsatisfiable: r.Decision.Unsatisfiable}
	if r.Build != nil {
		o.build = r.Build.Build
	}
	return o
}

func TestCheckMatrix(t *testing.T) {
	in, out := userWhere(t, true), userWhere(t, false)
	stable100 := func() *fixture { return newFixture().release("stable", android, 100, rollout.Completed, 100) }
	staged := func(state rollout.State, percent float64) *fixture {
		return stable100().release("stable", android, 110, state, percent)
	}
	withBeta := func(n int64, state rollout.State, percent float64) *fixture {
		return stable100().release("beta", android, n, state, percent)
	}
	itStaff := &auth.Principal{UserID: out, Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}

	tests := []struct {
		name      string
		f         *fixture
		p         *auth.Principal
		platform  release.Platform
		channel   string
		installed int64
		want      outcome
	}{
		{"offers a newer stable build as optional", stable100(), user(out), android, "", 90, outcome{rollout.Optional, "stable", 100, false, false}},
		{"tells a device on the current build there is nothing to do", stable100(), user(out), android, "", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"never downgrades a device newer than stable", stable100(), user(out), android, "", 105, outcome{rollout.None, "stable", 100, true, false}},
		{"offers nothing on a platform with no releases", stable100(), user(out), ios, "", 1, outcome{rollout.None, "stable", 0, false, false}},
		{"offers a staged build to a user in its cohort", staged(rollout.Active, 20), user(in), android, "", 100, outcome{rollout.Optional, "stable", 110, false, false}},
		{"offers the previous build to a user outside the cohort", staged(rollout.Active, 20), user(out), android, "", 90, outcome{rollout.Optional, "stable", 100, false, false}},
		{"offers a staged build at 100% to everybody", staged(rollout.Active, 100), user(out), android, "", 100, outcome{rollout.Optional, "stable", 110, false, false}},
		{"stops offering a halted build", staged(rollout.Halted, 20), user(in), android, "", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"serves the previous build again when one at 100% is halted", staged(rollout.Halted, 100), user(out), android, "", 90, outcome{rollout.Optional, "stable", 100, false, false}},
		{"offers a completed build to everybody", staged(rollout.Completed, 100), user(out), android, "", 100, outcome{rollout.Optional, "stable", 110, false, false}},
		{"requires an update below the minimum build", stable100().minBuild("stable", android, 100), user(out), android, "", 90, outcome{rollout.Required, "stable", 100, false, false}},
		{"keeps the update optional at the minimum build", staged(rollout.Active, 100).minBuild("stable", android, 100), user(out), android, "", 100, outcome{rollout.Optional, "stable", 110, false, false}},
		{"flags a minimum the user's cohort cannot reach yet", staged(rollout.Active, 20).minBuild("stable", android, 110), user(out), android, "", 100, outcome{rollout.None, "stable", 100, false, true}},
		{"requires the staged build inside the cohort when below the minimum", staged(rollout.Active, 20).minBuild("stable", android, 110), user(in), android, "", 100, outcome{rollout.Required, "stable", 110, false, false}},
		{"answers a beta member from beta", withBeta(120, rollout.Active, 100), user(tester), android, "beta", 100, outcome{rollout.Optional, "beta", 120, false, false}},
		{"answers a non-member asking for beta from stable", withBeta(120, rollout.Active, 100), user(out), android, "beta", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"says a tester who left beta runs a build newer than stable", withBeta(120, rollout.Active, 100), user(out), android, "beta", 120, outcome{rollout.None, "stable", 100, true, false}},
		{"moves a tester to stable once stable overtakes beta", withBeta(105, rollout.Completed, 100).release("stable", android, 110, rollout.Completed, 100), user(tester), android, "beta", 105, outcome{rollout.Optional, "stable", 110, false, false}},
		{"answers a beta member from stable while beta is empty", stable100(), user(tester), android, "beta", 90, outcome{rollout.Optional, "stable", 100, false, false}},
		{"skips a halted beta build for its members", withBeta(120, rollout.Halted, 100), user(tester), android, "beta", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"answers IT staff from alpha by department", stable100().release("alpha", android, 130, rollout.Active, 100), itStaff, android, "alpha", 100, outcome{rollout.Optional, "alpha", 130, false, false}},
		{"keeps alpha from other departments", stable100().release("alpha", android, 130, rollout.Active, 100), user(out), android, "alpha", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"keeps alpha from a beta tester", stable100().release("alpha", android, 130, rollout.Active, 100), user(tester, auth.RoleBetaTester), android, "alpha", 100, outcome{rollout.None, "stable", 100, false, false}},
		{"answers a custom channel by role", stable100().release("field", android, 125, rollout.Active, 100), user(out, auth.RoleApprover), android, "field", 100, outcome{rollout.Optional, "field", 125, false, false}},
		{"answers an unknown channel like one the user is not in", stable100(), user(out), android, "nightly", 90, outcome{rollout.Optional, "stable", 100, false, false}},
		{"keeps the platforms apart", stable100().release("stable", ios, 7, rollout.Completed, 100), user(out), ios, "", 5, outcome{rollout.Optional, "stable", 7, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.f.snapshot().Check(tt.p, updates.Query{AppID: appID, Platform: tt.platform, Build: tt.installed, Channel: tt.channel})
			if err != nil {
				t.Fatal(err)
			}
			if got := outcomeOf(res); got != tt.want {
				t.Errorf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckRejectsBadQueries(t *testing.T) {
	androidOnly := newFixture()
	androidOnly.d.Apps[0].IOSBundleID = ""
	snap := androidOnly.release("stable", android, 100, rollout.Completed, 100).snapshot()
	tests := []struct {
		name  string
		q     updates.Query
		code  apperr.Code
		field string
	}{
		{"refuses an unknown platform", updates.Query{AppID: appID, Platform: "windows"}, apperr.Invalid, "platform"},
		{"refuses a negative build", updates.Query{AppID: appID, Platform: android, Build: -1}, apperr.Invalid, "build"},
		{"refuses a malformed channel", updates.Query{AppID: appID, Platform: android, Channel: "Beta!"}, apperr.Invalid, "channel"},
		{"answers not found for an unknown app", updates.Query{AppID: "nope", Platform: android}, apperr.NotFound, ""},
		{"answers not found for a platform the app does not ship on", updates.Query{AppID: appID, Platform: ios}, apperr.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := snap.Check(user("u1"), tt.q)
			e, ok := apperr.As(err)
			if !ok || e.Code != tt.code || e.Field != tt.field {
				t.Fatalf("err = %v, want code %s field %q", err, tt.code, tt.field)
			}
		})
	}
}

func TestCheckIgnoresReleasesWhoseBuildIsGone(t *testing.T) {
	f := newFixture().release("stable", android, 100, rollout.Completed, 100).release("stable", android, 110, rollout.Completed, 100)
	f.d.Builds = f.d.Builds[:1] // retention deleted build 110
	res, err := f.snapshot().Check(user("u1"), updates.Query{AppID: appID, Platform: android, Build: 90})
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeOf(res); got != (outcome{rollout.Optional, "stable", 100, false, false}) {
		t.Fatalf("Check = %+v, want build 100 offered", got)
	}
}
