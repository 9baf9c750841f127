package updates_test

import (
	"context"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

// A device counts in the channel its app reports only when its user is a member of that channel
// in the app it runs; otherwise in stable, as the update check answers it.
func TestDeviceChannel(t *testing.T) {
	rel := &releases{}
	newFixture().save(t, rel, "t1")
	s := &updates.Service{View: &updates.View{Releases: rel}}
	it := &auth.Principal{UserID: "ivy", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}
	approver := user("amy", auth.RoleApprover)
	for _, tt := range []struct {
		name          string
		p             *auth.Principal
		app, reported string
		want          string
	}{
		{"stable stays stable", user("bob"), "portal", "stable", "stable"},
		{"no channel is stable", user("bob"), "portal", "", "stable"},
		{"a beta member by the app's id", user(tester), "portal", "beta", "beta"},
		{"a beta member by the app's package", user(tester), "com.example.portal", "beta", "beta"},
		{"beta claimed by a non-member is stable", user("bob"), "com.example.portal", "beta", "stable"},
		{"alpha by department", it, "com.example.portal", "alpha", "alpha"},
		{"alpha claimed outside its department is stable", user("bob"), "com.example.portal", "alpha", "stable"},
		{"a custom channel by role", approver, "portal", "field", "field"},
		{"a channel the app does not have is stable", user(tester), "portal", "nightly", "stable"},
		{"a member's channel in an app that is not registered is stable", user(tester), "com.example.other", "beta", "stable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DeviceChannel(context.Background(), tt.p, tt.app, tt.reported)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DeviceChannel(%s, %q, %q) = %q, want %q", tt.p.UserID, tt.app, tt.reported, got, tt.want)
			}
		})
	}
}

// HighestBuild is the newest build released on a channel the user is in, on the platform the
// app id names (either, when it names both).
func TestHighestBuild(t *testing.T) {
	rel := &releases{}
	newFixture().
		release("stable", release.Android, 100, rollout.Active, 100).
		release("beta", release.Android, 110, rollout.Active, 10).
		release("alpha", release.IOS, 120, rollout.Active, 100).
		save(t, rel, "t1")
	s := &updates.Service{View: &updates.View{Releases: rel}}
	it := &auth.Principal{UserID: "ivy", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}
	for _, tt := range []struct {
		name  string
		p     *auth.Principal
		app   string
		want  int64
		known bool
	}{
		{"stable's newest for everybody", user("bob"), "com.example.portal", 100, true},
		{"beta's for a beta member, staged or not", user(tester), "portal", 110, true},
		{"alpha's (on iOS) for IT", it, "com.example.portal", 120, true},
		{"nothing known of an app not registered", user("bob"), "com.example.other", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, known, err := s.HighestBuild(context.Background(), tt.p, tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || known != tt.known {
				t.Errorf("HighestBuild(%s, %q) = %d, %v; want %d, %v", tt.p.UserID, tt.app, got, known, tt.want, tt.known)
			}
		})
	}
}

// An app whose package and bundle id differ is bounded by the builds of the platform it names:
// the two number their builds apart, and an iOS app bounded by Android's newest build read the
// cards of iOS builds not yet released.
func TestHighestBuildOfOnePlatform(t *testing.T) {
	rel := &releases{}
	f := newFixture().
		release("stable", release.Android, 300, rollout.Active, 100).
		release("stable", release.IOS, 250, rollout.Active, 100)
	f.d.Apps[0].IOSBundleID = "com.example.portal.ios"
	f.save(t, rel, "t1")
	s := &updates.Service{View: &updates.View{Releases: rel}}
	for _, tt := range []struct {
		app  string
		want int64
	}{{"com.example.portal", 300}, {"com.example.portal.ios", 250}, {"portal", 300}} {
		got, known, err := s.HighestBuild(context.Background(), user("bob"), tt.app)
		if err != nil || !known || got != tt.want {
			t.Errorf("HighestBuild(%q) = %d, %v, %v; want %d", tt.app, got, known, err, tt.want)
		}
	}
}
