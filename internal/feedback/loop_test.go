package feedback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
)

func TestLoop(t *testing.T) {
	f := newFixture(t, nil)
	usage := &recordingUsage{}
	f.svc.Usage = usage
	ctx := context.Background()
	step := func(d time.Duration) { f.clock.Advance(d) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	update := func(id, status string) {
		t.Helper()
		_, err := f.svc.Update(ctx, olga, id, Update{Status: ptr(status)})
		must(err)
	}
	// Received at 0h: a1 (replied at 2h, resolved at 10h), a2 (acknowledged at 4h, replied at
	// 5h, resolved at 50h), a3 (never answered, one "me too"). Received at 50h: a4 (open).
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		newRecord("a1", "Crash on login"), newRecord("a2", "Slow sync\nsecond line"), newRecord("a3", "Map is blank"),
	}}}), 3)
	step(2 * time.Hour)
	_, err := f.svc.Reply(ctx, olga, "a1", "looking")
	must(err)
	step(2 * time.Hour)
	update("a2", StatusAcknowledged)
	step(time.Hour)
	_, err = f.svc.Reply(ctx, olga, "a2", "on it")
	must(err)
	step(5 * time.Hour)
	update("a1", StatusAcknowledged)
	update("a1", StatusResolved)
	update("a2", StatusInProgress)
	_, err = f.svc.MeToo(ctx, olga, "a3", true)
	must(err)
	_, err = f.svc.MeToo(ctx, olga, "a1", true) // closed: not in the top list
	must(err)
	step(40 * time.Hour)
	update("a2", StatusResolved)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		with(newRecord("a4", "Wrong name"), "created_at", f.clock.Now().UnixMilli()),
	}}}), 1)
	step(50 * time.Hour) // now 100h: a3 is 100h old, a4 50h

	hours := func(h float64) string { return fmt.Sprintf("%.2f", h) }
	show := func(d Durations) string {
		return fmt.Sprintf("%d %s %s", d.Count, hours(d.MedianHours), hours(d.P90Hours))
	}
	t.Run("times to the first ops response and to resolution, over the range", func(t *testing.T) {
		for _, c := range []struct {
			from, to            string
			created             int
			response, resolving string
		}{
			{"2026-11-20", "2026-11-22", 4, "2 2.00 4.00", "2 10.00 50.00"},
			{"2026-11-20", "2026-11-20", 3, "2 2.00 4.00", "2 10.00 50.00"},
			{"2026-11-22", "2026-11-30", 1, "0 0.00 0.00", "0 0.00 0.00"},
		} {
			got, err := f.svc.Loop(ctx, olga, c.from, c.to)
			must(err)
			if got.Created != c.created || show(got.FirstResponse) != c.response || show(got.Resolution) != c.resolving {
				t.Errorf("%s..%s: created %d, response %s, resolution %s; want %d, %s, %s", c.from, c.to,
					got.Created, show(got.FirstResponse), show(got.Resolution), c.created, c.response, c.resolving)
			}
		}
	})
	t.Run("the open backlog by age and the most me-too-ed open items", func(t *testing.T) {
		got, err := f.svc.Loop(ctx, olga, "2026-11-20", "2026-11-20")
		must(err)
		if got := fmt.Sprint(got.Open, got.Backlog); got != "2 [{<1d 0} {1-3d 1} {3-7d 1} {7-30d 0} {>30d 0}]" {
			t.Errorf("backlog %s", got)
		}
		if len(got.TopMeToo) != 1 || got.TopMeToo[0] != (MeTooItem{ID: "a3", Title: "Map is blank", Status: StatusNew, MeTooCount: 1}) {
			t.Errorf("top me too %+v", got.TopMeToo)
		}
	})
	t.Run("reopening drops an item from resolution until it closes again", func(t *testing.T) {
		update("a1", StatusInProgress)
		got, err := f.svc.Loop(ctx, olga, "2026-11-20", "2026-11-20")
		must(err)
		if show(got.Resolution) != "1 50.00 50.00" || got.Open != 3 {
			t.Errorf("resolution %s, open %d", show(got.Resolution), got.Open)
		}
	})
	t.Run("records feedback_created per new record and feedback_resolved per close", func(t *testing.T) {
		want := "alice feedback_created a1 bug|alice feedback_created a2 bug|alice feedback_created a3 bug|" +
			"olga feedback_resolved a1 resolved|olga feedback_resolved a2 resolved|alice feedback_created a4 bug|"
		if got := usage.String(); got != want {
			t.Errorf("events\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("the in-memory copy and the database give the same numbers", func(t *testing.T) {
		setCache := func(on bool) {
			f.svc.cache.mu.Lock()
			f.svc.cache.on = on
			f.svc.cache.mu.Unlock()
		}
		defer setCache(true)
		forget := func() {
			f.svc.loop.mu.Lock()
			f.svc.loop.entries = nil
			f.svc.loop.mu.Unlock()
		}
		for _, r := range [][2]string{{"2026-11-20", "2026-11-22"}, {"2026-11-20", "2026-11-20"}, {"2026-11-22", "2026-11-30"}} {
			cached, err := f.svc.Loop(ctx, olga, r[0], r[1])
			must(err)
			setCache(false)
			forget()
			fromDB, err := f.svc.Loop(ctx, olga, r[0], r[1])
			setCache(true)
			forget()
			must(err)
			if diff := cmp.Diff(fromDB, cached); diff != "" {
				t.Errorf("%s..%s: cache differs from the database (-db +cache):\n%s", r[0], r[1], diff)
			}
		}
	})
	t.Run("employees are forbidden and bad ranges name the field", func(t *testing.T) {
		if _, err := f.svc.Loop(ctx, alice, "2026-11-20", "2026-11-20"); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("employee: %v", err)
		}
		for _, c := range [][3]string{{"x", "2026-11-20", "from"}, {"2026-11-20", "", "to"},
			{"2026-11-20", "2026-11-19", "to"}, {"2026-01-01", "2027-12-31", "to"}} {
			_, err := f.svc.Loop(ctx, olga, c[0], c[1])
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Invalid || ae.Field != c[2] {
				t.Errorf("%v: %v", c, err)
			}
		}
	})
}

// recordingUsage records the usage events a service sends.
type recordingUsage struct {
	mu     sync.Mutex
	events []string
}

func (r *recordingUsage) Record(userID, _, name string, props map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %s %s %s", userID, name, props["feedback_id"], props["category"]+props["status"]))
}

func (r *recordingUsage) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "|") + "|"
}
