package analytics

import (
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// compactFixture is a Service holding 90 days of generated events, stored in time order (as
// apps send them) so that most batches' fragments hold closed days only, and a few straddle the
// closed days' end. Its clock is 120 days after the first day: the first 88 days are closed.
type compactFixture struct {
	s     *Service
	g     *generated
	clock *testenv.Clock
	first time.Time
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newCompactFixture(t *testing.T) *compactFixture {
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := testenv.NewClock(first.AddDate(0, 0, 120))
	s := &Service{DB: testenv.Mongo(t), Key: testKey, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	g := generate(7, 300, 90, 4000, first, s.pseudonym)
	sort.SliceStable(g.events, func(i, j int) bool { return g.events[i].At.Before(g.events[j].At) })
	for i := 0; i < len(g.events); i += 50 {
		if _, err := s.store(t.Context(), g.events[i:min(i+50, len(g.events))]); err != nil {
			t.Fatal(err)
		}
	}
	return &compactFixture{s: s, g: g, clock: c, first: first}
}

// replica is another instance on the same database, started from what is stored.
func (f *compactFixture) replica(t *testing.T) *Service {
	r := &Service{DB: f.s.DB, Key: testKey, Now: f.clock.Now}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

// answers is every number the queries give over the 90 days, as one comparable text.
func answers(t *testing.T, s *Service) string {
	t.Helper()
	ops := &auth.Principal{UserID: "ops", Roles: []auth.Role{auth.RoleOps}}
	r := Range{From: "2030-01-01", To: "2030-03-31"}
	var out []any
	for _, d := range [][2]string{{"", ""}, {"department", "R&D"}, {"platform", "ios"}, {"build", "portal/41"}} {
		au, err := s.ActiveUsers(ops, r, d[0], d[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, au)
	}
	screens, err := s.Screens(ops, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	adoption, err := s.Adoption(ops, "portal", r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(append(out, screens, adoption))
	return string(b)
}

func fragmentCount(t *testing.T, s *Service) int64 {
	n, err := s.fragments().CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompactionKeepsExactCounts(t *testing.T) {
	f := newCompactFixture(t)
	before := answers(t, f.s)
	if want := f.g.distinct("2030-01-01", "2030-03-31", func(*stored) bool { return true }); !json.Valid([]byte(before)) || want == 0 {
		t.Fatal("no data")
	}
	fragsBefore := fragmentCount(t, f.s)
	merged, deleted, err := f.s.Compact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Days 2030-01-01 .. 2030-03-29 (88) are closed: events more than 32 days old.
	if merged != 88 || deleted == 0 || int64(deleted) >= fragsBefore {
		t.Fatalf("merged %d days, deleted %d of %d fragments", merged, deleted, fragsBefore)
	}
	if got := fragmentCount(t, f.s); got != fragsBefore-int64(deleted)+int64(merged) {
		t.Fatalf("%d fragments after compaction, want %d", got, fragsBefore-int64(deleted)+int64(merged))
	}
	t.Run("the compacting instance answers the same", func(t *testing.T) {
		if got := answers(t, f.s); got != before {
			t.Fatalf("after compaction:\n%s\nbefore:\n%s", got, before)
		}
	})
	t.Run("an instance started after compaction answers the same", func(t *testing.T) {
		if got := answers(t, f.replica(t)); got != before {
			t.Fatalf("after compaction:\n%s\nbefore:\n%s", got, before)
		}
	})
	t.Run("a second compaction changes nothing", func(t *testing.T) {
		merged, deleted, err := f.s.Compact(t.Context())
		if err != nil || merged != 0 || deleted != 0 {
			t.Fatalf("second compaction: merged %d, deleted %d, %v", merged, deleted, err)
		}
	})
	t.Run("a late event on a merged day still counts", func(t *testing.T) {
		ops := &auth.Principal{UserID: "ops", Roles: []auth.Role{auth.RoleOps}}
		day := Range{From: "2030-01-05", To: "2030-01-05"}
		was, _ := f.s.ActiveUsers(ops, day, "", "")
		late := stored{ID: "late:1", P: f.s.pseudonym("u", "latecomer"), Name: "screen_view", Screen: "home",
			At: f.first.AddDate(0, 0, 4).Add(time.Hour), App: "portal", Build: "42", Platform: "web", Received: f.clock.Now()}
		if _, err := f.s.store(t.Context(), []stored{late}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.s.Compact(t.Context()); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*Service{"this instance": f.s, "a new instance": f.replica(t)} {
			now, _ := s.ActiveUsers(ops, day, "", "")
			if now.Users != was.Users+1 || now.Days[0].DAU != was.Days[0].DAU+1 {
				t.Errorf("%s: %d users after a late event, %d before", name, now.Users, was.Users)
			}
		}
	})
}

func TestConcurrentCompactorsMergeEachDayOnce(t *testing.T) {
	f := newCompactFixture(t)
	before := answers(t, f.s)
	replicas := []*Service{f.s, f.replica(t), f.replica(t), f.replica(t)}
	var wg sync.WaitGroup
	merged := make([]int, len(replicas))
	errs := make([]error, len(replicas))
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			merged[i], _, errs[i] = r.Compact(t.Context())
		}()
	}
	wg.Wait()
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		total += merged[i]
	}
	if total != 88 {
		t.Fatalf("%d merges by %d compactors, want each of the 88 closed days once", total, len(replicas))
	}
	n, err := f.s.fragments().CountDocuments(t.Context(), bson.D{{Key: "compacted", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil || n != 88 {
		t.Fatalf("%d merged fragments, %v", n, err)
	}
	for i, r := range append(replicas, f.replica(t)) {
		if got := answers(t, r); got != before {
			t.Fatalf("instance %d after concurrent compaction:\n%s\nbefore:\n%s", i, got, before)
		}
	}
}

func TestCompactionCrashBetweenMergeAndDelete(t *testing.T) {
	f := newCompactFixture(t)
	before := answers(t, f.s)
	fragsBefore := fragmentCount(t, f.s)
	// The merges are written, then the compactor dies before deleting any part.
	if _, _, merged, err := f.s.mergeClosedDays(t.Context()); err != nil || merged != 88 {
		t.Fatalf("merge: %d days, %v", merged, err)
	}
	if got := fragmentCount(t, f.s); got != fragsBefore+88 {
		t.Fatalf("%d fragments, want the parts and 88 merges", got)
	}
	if got := answers(t, f.replica(t)); got != before {
		t.Fatalf("parts and merges both stored:\n%s\nbefore:\n%s", got, before)
	}
	// The next run (any replica) finishes the clean-up without merging again.
	merged, deleted, err := f.replica(t).Compact(t.Context())
	if err != nil || merged != 0 || deleted == 0 {
		t.Fatalf("after the crash: merged %d, deleted %d, %v", merged, deleted, err)
	}
	for name, s := range map[string]*Service{"the crashed instance": f.s, "a new instance": f.replica(t)} {
		if got := answers(t, s); got != before {
			t.Fatalf("%s:\n%s\nbefore:\n%s", name, got, before)
		}
	}
}
