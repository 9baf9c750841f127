package analytics_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	start = time.Date(2030, 3, 10, 12, 0, 0, 0, time.UTC)
	key   = []byte("0123456789abcdef0123456789abcdef")
	ops   = &auth.Principal{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}}
)

func employee(id, dept, device string) *auth.Principal {
	return &auth.Principal{UserID: id, Department: dept, DeviceID: device, Roles: []auth.Role{auth.RoleEmployee}}
}

func newService(t *testing.T, db *mongodb.DB, c *testenv.Clock) *analytics.Service {
	t.Helper()
	s := &analytics.Service{DB: db, Key: key, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func batch(clientTime time.Time, events ...analytics.Event) analytics.Batch {
	return analytics.Batch{App: "portal", Build: "42", Platform: "android", ClientTime: clientTime.UnixMilli(), Events: events}
}

func view(id, screen string, at time.Time) analytics.Event {
	return analytics.Event{ID: id, Name: "screen_view", Screen: screen, At: at.UnixMilli()}
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func active(t *testing.T, s *analytics.Service, from, to string) *analytics.ActiveUsers {
	t.Helper()
	a, err := s.ActiveUsers(ops, analytics.Range{From: from, To: to}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func screenViews(t *testing.T, s *analytics.Service, from, to, screen string) int64 {
	t.Helper()
	items, err := s.Screens(ops, analytics.Range{From: from, To: to}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Screen == screen {
			return it.Views
		}
	}
	return 0
}

func TestIngest(t *testing.T) {
	c := testenv.NewClock(start)
	db := testenv.Mongo(t)
	s := newService(t, db, c)
	today := day(start)

	t.Run("counts a replayed batch once", func(t *testing.T) {
		b := batch(start, view("r1", "replay", start), view("r2", "replay", start))
		for i, want := range []analytics.IngestResult{{Accepted: 2}, {Duplicates: 2}} {
			res, err := s.Ingest(t.Context(), employee("u1", "Sales", "d1"), b)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != want.Accepted || res.Duplicates != want.Duplicates || len(res.Rejected) != 0 {
				t.Fatalf("send %d = %+v, want %+v", i+1, res, want)
			}
		}
		if got := screenViews(t, s, today, today, "replay"); got != 2 {
			t.Fatalf("views = %d, want 2", got)
		}
	})

	t.Run("counts concurrent duplicates once", func(t *testing.T) {
		b := batch(start, view("c1", "concurrent", start), view("c2", "concurrent", start), view("c3", "concurrent", start))
		var mu sync.Mutex
		accepted := 0
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				res, err := s.Ingest(t.Context(), employee("u2", "Sales", "d2"), b)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted += res.Accepted
				mu.Unlock()
			})
		}
		wg.Wait()
		if accepted != 3 {
			t.Fatalf("accepted %d events over 16 sends, want 3", accepted)
		}
		if got := screenViews(t, s, today, today, "concurrent"); got != 3 {
			t.Fatalf("views = %d, want 3", got)
		}
	})

	t.Run("puts late and skewed events on the day they happened", func(t *testing.T) {
		// The phone's clock is 5 hours behind: its 20:00 of the day before is the server's 01:00.
		c.Set(time.Date(2030, 3, 11, 2, 0, 0, 0, time.UTC))
		now := c.Now()
		skewed := now.Add(-5 * time.Hour)
		happened := time.Date(2030, 3, 10, 20, 0, 0, 0, time.UTC) // on the phone's clock
		late := now.Add(-29 * 24 * time.Hour)
		res, err := s.Ingest(t.Context(), employee("u3", "Ops", "d3"), batch(skewed,
			view("s1", "skew", happened), view("s2", "late", late.Add(-5*time.Hour))))
		if err != nil || res.Accepted != 2 {
			t.Fatalf("Ingest = %+v, %v", res, err)
		}
		if got := screenViews(t, s, "2030-03-11", "2030-03-11", "skew"); got != 1 {
			t.Fatalf("skewed event not on 2030-03-11 (views %d)", got)
		}
		if got := screenViews(t, s, "2030-03-10", "2030-03-10", "skew"); got != 0 {
			t.Fatalf("skewed event counted on the phone's day")
		}
		if got := screenViews(t, s, day(late), day(late), "late"); got != 1 {
			t.Fatalf("late event not on %s", day(late))
		}
	})

	t.Run("rejects bad events alone, with index and reason", func(t *testing.T) {
		now := c.Now()
		res, err := s.Ingest(t.Context(), employee("u4", "Ops", "d4"), batch(now,
			view("ok1", "good", now),
			view("old", "good", now.Add(-31*24*time.Hour)),
			analytics.Event{ID: "noscreen", Name: "screen_view", At: now.UnixMilli()},
			analytics.Event{ID: "bad name", Name: "Bad Name", At: now.UnixMilli()},
			view("future", "good", now.Add(time.Hour)),
			analytics.Event{ID: "props", Name: "tap", At: now.UnixMilli(), Properties: map[string]string{"BAD": "x"}},
			view("ok2", "good", now)))
		if err != nil {
			t.Fatal(err)
		}
		wantFields := []string{"events[1].at", "events[2].screen", "events[3].id", "events[4].at", "events[5].properties"}
		if res.Accepted != 2 || len(res.Rejected) != len(wantFields) {
			t.Fatalf("Ingest = %+v", res)
		}
		for i, r := range res.Rejected {
			if r.Field != wantFields[i] || r.Index != i+1 || r.Reason == "" {
				t.Errorf("rejected[%d] = %+v, want field %s", i, r, wantFields[i])
			}
		}
	})

	t.Run("refuses the server's event ids and names", func(t *testing.T) {
		// Before, an app could send srv.install.<sha256> first (it knows the device, app and
		// build), so the server's real install counted as a duplicate; or send "install" events
		// for builds never released.
		now := c.Now()
		res, err := s.Ingest(t.Context(), employee("u4", "Ops", "d4"), batch(now,
			analytics.Event{ID: "srv.install.0123abcd", Name: "tap", At: now.UnixMilli()},
			analytics.Event{ID: "i1", Name: "install", At: now.UnixMilli()},
			analytics.Event{ID: "s1", Name: "sign_in", At: now.UnixMilli()},
			analytics.Event{ID: "a1", Name: "app_start", Screen: "home", At: now.UnixMilli()}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 1 || len(res.Rejected) != 3 || res.Rejected[0].Field != "events[0].id" ||
			res.Rejected[1].Field != "events[1].name" || res.Rejected[2].Field != "events[2].name" {
			t.Fatalf("Ingest = %+v", res)
		}
	})

	t.Run("rejects a bad batch naming the field", func(t *testing.T) {
		now := c.Now()
		for field, b := range map[string]analytics.Batch{
			"events":      batch(now),
			"platform":    {App: "portal", Build: "1", Platform: "server", ClientTime: now.UnixMilli(), Events: []analytics.Event{view("x", "y", now)}},
			"client_time": {App: "portal", Build: "1", Platform: "ios", ClientTime: 12, Events: []analytics.Event{view("x", "y", now)}},
			"app":         {Build: "1", Platform: "ios", ClientTime: now.UnixMilli(), Events: []analytics.Event{view("x", "y", now)}},
		} {
			_, err := s.Ingest(t.Context(), employee("u5", "", "d5"), b)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != field {
				t.Errorf("Ingest without a good %s = %v", field, err)
			}
		}
		var many []analytics.Event
		for i := range analytics.MaxBatch + 1 {
			many = append(many, view(fmt.Sprint("m", i), "m", now))
		}
		if _, err := s.Ingest(t.Context(), employee("u5", "", "d5"), batch(now, many...)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Ingest of 501 events = %v, want invalid", err)
		}
	})

	t.Run("keeps only counts and pseudonyms: no user id in raw events", func(t *testing.T) {
		n, err := db.Collection("analytics_events").CountDocuments(t.Context(), map[string]any{"p": "u1"})
		if err != nil || n != 0 {
			t.Fatalf("events with the plain user id: %d, %v", n, err)
		}
	})

	t.Run("answers the same after a restart", func(t *testing.T) {
		before := active(t, s, "2030-02-01", "2030-03-11")
		again := newService(t, db, c)
		after := active(t, again, "2030-02-01", "2030-03-11")
		if before.Users != after.Users || before.Users != 4 || fmt.Sprint(before.Days) != fmt.Sprint(after.Days) {
			t.Fatalf("before restart %+v, after %+v", before, after)
		}
	})
}

func TestRateLimit(t *testing.T) {
	c := testenv.NewClock(start)
	s := &analytics.Service{DB: testenv.Mongo(t), Key: key, Now: c.Now, Limit: analytics.Limit{Events: 1, Burst: 3}}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := employee("u1", "Sales", "d1")
	if _, err := s.Ingest(t.Context(), p, batch(start, view("a", "x", start), view("b", "x", start))); err != nil {
		t.Fatal(err)
	}
	_, err := s.Ingest(t.Context(), p, batch(start, view("c", "x", start), view("d", "x", start)))
	if e, ok := apperr.As(err); !ok || e.Code != apperr.RateLimited || e.RetryAfter <= 0 {
		t.Fatalf("second batch = %v, want rate_limited with Retry-After", err)
	}
	if _, err := s.Ingest(t.Context(), employee("u1", "Sales", "d2"), batch(start, view("c", "x", start))); err != nil {
		t.Fatalf("another device of the same user = %v, want its own budget", err)
	}
	c.Advance(2 * time.Second)
	if _, err := s.Ingest(t.Context(), p, batch(start, view("c", "x", start), view("d", "x", start))); err != nil {
		t.Fatalf("after the refill = %v", err)
	}
}

func TestOnlyOpsAndAdminsReadMetrics(t *testing.T) {
	s := newService(t, testenv.Mongo(t), testenv.NewClock(start))
	r := analytics.Range{From: "2030-01-01", To: "2030-01-31"}
	for _, p := range []*auth.Principal{employee("e1", "Sales", "d"), {UserID: "x"}} {
		checks := map[string]error{}
		_, checks["ActiveUsers"] = s.ActiveUsers(p, r, "", "")
		_, checks["BreakdownBy"] = s.BreakdownBy(p, r, "department")
		_, checks["Screens"] = s.Screens(p, r, 10)
		_, checks["ScreenDays"] = s.ScreenDays(p, r, "home")
		_, checks["Adoption"] = s.Adoption(p, "portal", r)
		for name, err := range checks {
			if !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s by %v = %v, want forbidden", name, p.Roles, err)
			}
		}
	}
	admin := &auth.Principal{UserID: "a", Roles: []auth.Role{auth.RoleAdmin}}
	if _, err := s.ActiveUsers(admin, r, "", ""); err != nil {
		t.Errorf("ActiveUsers by an admin = %v", err)
	}
	for _, bad := range []struct {
		r          analytics.Range
		dim, field string
	}{
		{analytics.Range{From: "2030-13-01", To: "2030-01-01"}, "", "from"},
		{analytics.Range{From: "2030-01-02", To: "2030-01-01"}, "", "to"},
		{analytics.Range{From: "2029-01-01", To: "2030-03-01"}, "", "to"},
		{r, "colour", "dimension"},
	} {
		_, err := s.ActiveUsers(ops, bad.r, bad.dim, "x")
		if e, ok := apperr.As(err); !ok || e.Field != bad.field {
			t.Errorf("ActiveUsers(%+v, %q) = %v, want invalid %s", bad.r, bad.dim, err, bad.field)
		}
	}
}
