package analytics_test

import (
	"testing"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/testenv"
)

// A property name with a dot is refused with the event: the embedded FerretDB refuses a stored
// key with a dot, which failed the whole batch with a 500 and left its other events stored but
// never counted (their retry was then all duplicates).
func TestPropertyNamesWithADotAreRefused(t *testing.T) {
	c := testenv.NewClock(start)
	s := newService(t, testenv.Mongo(t), c)
	today := day(start)
	bad := view("p2", "props", start)
	bad.Properties = map[string]string{"utm.source": "mail"}
	res, err := s.Ingest(t.Context(), employee("u1", "Sales", "d1"), batch(start, view("p1", "props", start), bad))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || len(res.Rejected) != 1 || res.Rejected[0].ID != "p2" {
		t.Fatalf("result %+v, want p1 accepted and p2 refused", res)
	}
	if got := screenViews(t, s, today, today, "props"); got != 1 {
		t.Fatalf("views = %d, want 1", got)
	}
}

// Department and role answer with their devices, as the other dimensions do: they were always 0.
func TestDepartmentAndRoleCountDevices(t *testing.T) {
	c := testenv.NewClock(start)
	s := newService(t, testenv.Mongo(t), c)
	today := day(start)
	for i, dev := range []string{"phone", "tablet"} {
		if _, err := s.Ingest(t.Context(), employee("u1", "Sales", dev), batch(start, view("d"+dev, "home", start.Add(-1)))); err != nil {
			t.Fatal(err, i)
		}
	}
	for _, q := range []struct{ dimension, value string }{{"department", "Sales"}, {"role", "employee"}} {
		a, err := s.ActiveUsers(ops, analytics.Range{From: today, To: today}, q.dimension, q.value)
		if err != nil {
			t.Fatal(err)
		}
		if a.Users != 1 || a.Devices != 2 {
			t.Errorf("%s %s: %d users, %d devices; want 1 and 2", q.dimension, q.value, a.Users, a.Devices)
		}
		rows, err := s.BreakdownBy(ops, analytics.Range{From: today, To: today}, q.dimension)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Value != q.value || rows[0].Devices != 2 {
			t.Errorf("breakdown by %s: %+v, want %s with 2 devices", q.dimension, rows, q.value)
		}
	}
}
