package updates_test

import (
	"context"
	"testing"

	"github.com/mportal/mportal/internal/auth"
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
