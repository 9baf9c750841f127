package rollout_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/release/rollout"
)

// The property tests use a fixed PRNG seed so that a failure reproduces; the properties themselves
// hold for every input, so the choice of seed does not matter.
func newRand() *rand.Rand { return rand.New(rand.NewPCG(20240605, 5)) }

// randomID returns a hex id; every tenth one is long enough to take InCohort's heap path.
func randomID(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		return strings.Repeat(fmt.Sprintf("%016x", r.Uint64()), 10)
	}
	return fmt.Sprintf("%016x%08x", r.Uint64(), r.Uint32())
}

func TestInCohortIsMonotonicInPercent(t *testing.T) {
	r := newRand()
	for range 50_000 {
		seed, user := randomID(r), randomID(r)
		p1 := r.Float64() * 100
		p2 := p1 + r.Float64()*(100-p1)
		if rollout.InCohort(seed, user, p1) && !rollout.InCohort(seed, user, p2) {
			t.Fatalf("InCohort(%q, %q): in at %v%% but out at %v%%", seed, user, p1, p2)
		}
	}
}

func TestInCohortDependsOnlyOnSeedUserAndPercent(t *testing.T) {
	r := newRand()
	for range 20_000 {
		seed, user := randomID(r), randomID(r)
		p := r.Float64() * 100
		want := rollout.InCohort(seed, user, p)
		// Rebuilt strings rule out any dependence on string identity.
		if got := rollout.InCohort(strings.Clone(seed), strings.Clone(user), p); got != want {
			t.Fatalf("InCohort(%q, %q, %v) changed from %v to %v", seed, user, p, want, got)
		}
	}

	t.Run("halting and resuming reaches the same users", func(t *testing.T) {
		rel := rollout.Release{ID: "r", Build: 2, Seed: "rollout-seed", Percent: 30, State: rollout.Active}
		users := make([]string, 5_000)
		for i := range users {
			users[i] = randomID(r)
		}
		before := offeredUsers(rel, users)
		halted, err := rollout.Halt(rel)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(offeredUsers(halted, users)); n != 0 {
			t.Fatalf("a halted release was offered to %d users", n)
		}
		resumed, err := rollout.Resume(halted)
		if err != nil {
			t.Fatal(err)
		}
		after := offeredUsers(resumed, users)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("resuming changed the cohort: %d users before, %d after", len(before), len(after))
		}
		if len(before) == 0 {
			t.Fatal("the cohort is empty; the test proves nothing")
		}
	})
}

// offeredUsers lists, in order, the users to whom Decide offers rel as an update from build 1.
func offeredUsers(rel rollout.Release, users []string) []string {
	track := rollout.Track{Releases: []rollout.Release{rel}}
	var offered []string
	for _, u := range users {
		if rollout.Decide(track, u, 1).Type == rollout.Optional {
			offered = append(offered, u)
		}
	}
	return offered
}

func TestInCohortReachesTheRequestedShare(t *testing.T) {
	r := newRand()
	seed := randomID(r)
	const n = 100_000
	users := make([]string, n)
	for i := range users {
		users[i] = randomID(r)
	}
	for _, p := range []float64{1, 5, 10, 50} {
		t.Run(fmt.Sprintf("reaches %v%% of users within one point", p), func(t *testing.T) {
			in := 0
			for _, u := range users {
				if rollout.InCohort(seed, u, p) {
					in++
				}
			}
			if share := float64(in) / n * 100; math.Abs(share-p) > 1 {
				t.Fatalf("%v%% rollout reached %.3f%% of %d users", p, share, n)
			}
		})
	}
}

func TestInCohortIsIndependentAcrossSeeds(t *testing.T) {
	r := newRand()
	seedA, seedB := randomID(r), randomID(r)
	const n = 100_000
	both := 0
	for range n {
		u := randomID(r)
		if rollout.InCohort(seedA, u, 10) && rollout.InCohort(seedB, u, 10) {
			both++
		}
	}
	// Independent 10% cohorts share 10% x 10% = 1% of users.
	if share := float64(both) / n * 100; math.Abs(share-1) > 0.5 {
		t.Fatalf("two 10%% cohorts overlap on %.3f%% of users, want about 1%%", share)
	}
}

func TestInCohortAtTheBounds(t *testing.T) {
	r := newRand()
	tests := []struct {
		name    string
		percent float64
		want    bool
	}{
		{"reaches nobody at 0%", 0, false},
		{"reaches nobody below 0%", -5, false},
		{"reaches nobody at NaN", math.NaN(), false},
		{"reaches everybody at 100%", 100, true},
		{"reaches everybody above 100%", 250, true},
		{"reaches everybody at +Inf", math.Inf(1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 10_000 {
				seed, user := randomID(r), randomID(r)
				if got := rollout.InCohort(seed, user, tt.percent); got != tt.want {
					t.Fatalf("InCohort(%q, %q, %v) = %v", seed, user, tt.percent, got)
				}
			}
		})
	}
}
