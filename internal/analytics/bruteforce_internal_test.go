package analytics

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// generated is a random usage history and the brute-force answers computed from it.
type generated struct {
	events []stored
	first  time.Time
	days   int
}

func generate(seed uint64, users, days, events int, first time.Time, pseudonym func(kind, id string) string) *generated {
	rng := rand.New(rand.NewPCG(seed, 1))
	depts := []string{"Sales", "Ops", "R&D", "Finance"}
	builds := []string{"40", "41", "42"}
	g := &generated{first: first, days: days}
	for i := range events {
		u := rng.IntN(users)
		// Skewed activity: a few heavy users, many light ones, and quiet days.
		if rng.IntN(3) == 0 {
			u = rng.IntN(users/10 + 1)
		}
		at := first.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
		user := fmt.Sprint("user", u)
		name, screen := "screen_view", fmt.Sprint("screen", rng.IntN(5))
		if rng.IntN(4) == 0 {
			name, screen = "app_start", "home"
		}
		dev := fmt.Sprintf("%s/dev%d", user, rng.IntN(2))
		p := pseudonym("u", user)
		g.events = append(g.events, stored{ID: fmt.Sprint(p, ":e", i), P: p, D: pseudonym("d", dev), Name: name, Screen: screen,
			At: at, App: "portal", Build: builds[rng.IntN(len(builds))], Platform: []string{"android", "ios"}[u%2],
			Dept: depts[u%len(depts)], Roles: []string{"employee"}, Received: at})
	}
	return g
}

// distinct is the brute-force answer: distinct pseudonyms of the events in [from, to] that
// match.
func (g *generated) distinct(from, to string, match func(*stored) bool) int {
	set := map[string]bool{}
	for i := range g.events {
		e := &g.events[i]
		if d := dayOf(e.At); d >= from && d <= to && match(e) {
			set[e.P] = true
		}
	}
	return len(set)
}

func TestDistinctCountsMatchABruteForceReference(t *testing.T) {
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := testenv.NewClock(first.AddDate(0, 0, 120))
	s := &Service{DB: testenv.Mongo(t), Key: []byte("0123456789abcdef0123456789abcdef"), Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := generate(7, 400, 90, 6000, first, s.pseudonym)
	for i := 0; i < len(g.events); i += MaxBatch {
		if _, err := s.store(t.Context(), g.events[i:min(i+MaxBatch, len(g.events))]); err != nil {
			t.Fatal(err)
		}
	}
	ops := &auth.Principal{UserID: "ops", Roles: []auth.Role{auth.RoleOps}}
	rng := rand.New(rand.NewPCG(11, 2))
	dims := []struct {
		dimension, value string
		match            func(*stored) bool
	}{
		{"", "", func(*stored) bool { return true }},
		{"department", "R&D", func(e *stored) bool { return e.Dept == "R&D" }},
		{"platform", "ios", func(e *stored) bool { return e.Platform == "ios" }},
		{"build", "portal/41", func(e *stored) bool { return e.Build == "41" }},
		{"role", "employee", func(e *stored) bool { return true }},
	}
	check := func(from, to string, daily bool) {
		for _, d := range dims {
			got, err := s.ActiveUsers(ops, Range{From: from, To: to}, d.dimension, d.value)
			if err != nil {
				t.Fatal(err)
			}
			if want := g.distinct(from, to, d.match); got.Users != want {
				t.Errorf("%s..%s %s=%s: %d distinct users, brute force %d", from, to, d.dimension, d.value, got.Users, want)
			}
			// Each day's DAU, WAU and MAU too, on the long range.
			for _, ad := range got.Days {
				if !daily {
					break
				}
				at, _ := time.Parse(time.DateOnly, ad.Day)
				for _, w := range []struct {
					n, got int
				}{{1, ad.DAU}, {7, ad.WAU}, {30, ad.MAU}} {
					if want := g.distinct(dayOf(at.AddDate(0, 0, 1-w.n)), ad.Day, d.match); w.got != want {
						t.Fatalf("%s %s=%s over %d days: %d, brute force %d", ad.Day, d.dimension, d.value, w.n, w.got, want)
					}
				}
			}
		}
	}
	check("2030-01-01", "2030-03-31", true)
	for range 20 {
		a, b := rng.IntN(100)-5, rng.IntN(100)-5
		if a > b {
			a, b = b, a
		}
		check(dayOf(first.AddDate(0, 0, a)), dayOf(first.AddDate(0, 0, b)), false)
	}
	// The sum of daily uniques overcounts: the range's distinct count is what the API answers.
	got, _ := s.ActiveUsers(ops, Range{From: "2030-01-01", To: "2030-03-31"}, "", "")
	sum := 0
	for _, d := range got.Days {
		sum += d.DAU
	}
	if sum <= got.Users {
		t.Fatalf("generated data too sparse to tell distinct from summed (%d vs %d)", got.Users, sum)
	}
	// Breakdown and screens against the reference as well.
	rows, err := s.BreakdownBy(ops, Range{From: "2030-02-01", To: "2030-02-28"}, "department")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if want := g.distinct("2030-02-01", "2030-02-28", func(e *stored) bool { return e.Dept == r.Value }); r.Users != want {
			t.Errorf("breakdown %s: %d, brute force %d", r.Value, r.Users, want)
		}
	}
	screens, err := s.Screens(ops, Range{From: "2030-01-10", To: "2030-02-20"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range screens {
		views := 0
		for i := range g.events {
			e := &g.events[i]
			if d := dayOf(e.At); d >= "2030-01-10" && d <= "2030-02-20" && e.Name == "screen_view" && e.Screen == sc.Screen {
				views++
			}
		}
		visitors := g.distinct("2030-01-10", "2030-02-20", func(e *stored) bool { return e.Name == "screen_view" && e.Screen == sc.Screen })
		if sc.Views != int64(views) || sc.Visitors != visitors {
			t.Errorf("screen %s: %d views %d visitors, brute force %d and %d", sc.Screen, sc.Views, sc.Visitors, views, visitors)
		}
	}
}
