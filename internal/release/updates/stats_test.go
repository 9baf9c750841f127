package updates_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

func TestStats(t *testing.T) {
	f := newFixture().release("stable", android, 100, rollout.Completed, 100).
		release("stable", android, 110, rollout.Active, 20).
		release("beta", android, 120, rollout.Active, 100)
	f.d.Channels[1].Cap = 3 // beta: one member, two seats left
	s := newService(t, f)
	in, out := userWhere(t, true), userWhere(t, false)
	devices := []struct {
		user, channel, app string
		build              int64
	}{
		{in, "stable", "com.example.portal", 110},  // in the cohort, updated
		{in, "", "com.example.portal", 100},        // in the cohort, not yet ("" is stable)
		{out, "stable", "com.example.portal", 100}, // outside the cohort
		{tester, "beta", "com.example.portal", 120},
		{out, "stable", "com.other.app", 100}, // another app: ignored
	}
	for i, d := range devices {
		_, err := s.Devices.(*directory.Devices).CheckIn(ctx(t), user(d.user), fmt.Sprintf("dev-%d", i), directory.DeviceInput{
			Platform: "android", Model: "Pixel 8", OSVersion: "15", AppVersion: "1.0",
			AppID: d.app, BuildNumber: d.build, Channel: d.channel,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{in, out} {
		if _, _, err := s.Download(ctx(t), user(u), appID, "android-100"); err != nil {
			t.Fatal(err)
		}
	}

	st, err := s.Stats(ctx(t), user("ops-1", auth.RoleOps), appID, "")
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	two := 2
	byName := map[string]updates.ChannelStats{}
	for _, c := range st.Channels {
		byName[c.Channel] = c
	}
	wantStable := updates.ChannelStats{
		Channel: "stable", Kind: "stable", Builds: []updates.BuildStats{
			{Platform: android, Build: 110, BuildID: str("android-110"), Version: str("1.110"), Devices: 1},
			{Platform: android, Build: 100, BuildID: str("android-100"), Version: str("1.100"), Downloads: 2, Devices: 2},
		},
		Rollouts: []updates.RolloutStats{
			{Platform: android, ReleaseID: "rel-stable-android-110", BuildID: "android-110", Build: 110, State: rollout.Active, Percent: 20, Eligible: 2, Updated: 1, Share: 0.5},
			{Platform: android, ReleaseID: "rel-stable-android-100", BuildID: "android-100", Build: 100, State: rollout.Completed, Percent: 100, Eligible: 3, Updated: 3, Share: 1},
		},
	}
	if diff := cmp.Diff(wantStable, byName["stable"]); diff != "" {
		t.Errorf("stable (-want +got):\n%s", diff)
	}
	beta := byName["beta"]
	if beta.Members != 1 || beta.Cap != 3 || beta.SeatsLeft == nil || *beta.SeatsLeft != two ||
		len(beta.Builds) != 1 || beta.Builds[0].Devices != 1 || len(beta.Rollouts) != 1 || beta.Rollouts[0].Share != 1 {
		t.Errorf("beta = %+v", beta)
	}
	if a := byName["alpha"]; a.SeatsLeft != nil || len(a.Builds) != 0 {
		t.Errorf("alpha = %+v", a)
	}

	t.Run("is for ops and admins only", func(t *testing.T) {
		if _, err := s.Stats(ctx(t), user("u1"), appID, ""); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("err = %v, want forbidden", err)
		}
	})
	t.Run("refuses an unknown platform", func(t *testing.T) {
		if _, err := s.Stats(ctx(t), user("a1", auth.RoleAdmin), appID, "windows"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
	t.Run("answers not found for an unknown app", func(t *testing.T) {
		if _, err := s.Stats(ctx(t), user("a1", auth.RoleAdmin), "nope", ""); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("err = %v, want not_found", err)
		}
	})
}
