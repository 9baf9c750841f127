package updates_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

// offered lists the users among users to whom the snapshot offers build 110 on stable.
func offered(t *testing.T, snap *updates.Snapshot, users []string) []string {
	t.Helper()
	var got []string
	for _, u := range users {
		res, err := snap.Check(user(u), updates.Query{AppID: appID, Platform: android, Build: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.Build != nil && res.Build.Build == 110 && res.Decision.Type == rollout.Optional {
			got = append(got, u)
		}
	}
	return got
}

// The cohort properties themselves are proven in package rollout; these check that the update
// check keeps them end to end (the stored seed and percent reach Decide unchanged).
func TestCheckKeepsCohortProperties(t *testing.T) {
	users := make([]string, 2000)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	at := func(state rollout.State, percent float64) *updates.Snapshot {
		return newFixture().release("stable", android, 100, rollout.Completed, 100).
			release("stable", android, 110, state, percent).snapshot()
	}
	t.Run("raising the percentage only adds users", func(t *testing.T) {
		prev := []string{}
		for _, p := range []float64{1, 5, 10, 25, 50, 75, 100} {
			cur := offered(t, at(rollout.Active, p), users)
			for _, u := range prev {
				if !slices.Contains(cur, u) {
					t.Fatalf("%s was offered the build at a lower percentage but not at %v%%", u, p)
				}
			}
			if len(cur) < len(prev) {
				t.Fatalf("%v%% reached %d users, fewer than before (%d)", p, len(cur), len(prev))
			}
			prev = cur
		}
		if len(prev) != len(users) {
			t.Fatalf("100%% reached %d of %d users", len(prev), len(users))
		}
	})
	t.Run("halting and resuming reaches the same users", func(t *testing.T) {
		before := offered(t, at(rollout.Active, 30), users)
		if n := len(offered(t, at(rollout.Halted, 30), users)); n != 0 {
			t.Fatalf("a halted release was offered to %d users", n)
		}
		after := offered(t, at(rollout.Active, 30), users)
		if !slices.Equal(before, after) || len(before) == 0 {
			t.Fatalf("resuming changed the cohort: %d users before, %d after", len(before), len(after))
		}
	})
}
