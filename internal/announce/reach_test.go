package announce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
)

func TestReach(t *testing.T) {
	db := testenv.Mongo(t)
	now := time.Date(2030, 3, 10, 8, 0, 0, 0, time.UTC)
	members := staticMembers{[]directory.Member{{UserID: "u1", Department: "Sales"}, {UserID: "u2", Department: "Sales"},
		{UserID: "u3", Department: "IT"}}}
	s := &Service{DB: db, Push: &countingPusher{}, Members: members, Now: func() time.Time { return now }}
	ctx := context.Background()
	publish := func(title string) string {
		t.Helper()
		a, err := s.Create(ctx, opsUser, Input{Title: ptr(title), Body: ptr("Read me."), Audience: &Audience{Departments: []string{"Sales", "IT"}}, Importance: ptr(Important)})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	first := publish("March policy")
	now = now.Add(48 * time.Hour) // 2030-03-12
	second := publish("Holiday")
	for _, u := range []*auth.Principal{{UserID: "u1", Department: "Sales"}, {UserID: "u3", Department: "IT"}} {
		if err := s.MarkRead(ctx, u, first); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Acknowledge(ctx, &auth.Principal{UserID: "u1", Department: "Sales"}, first); err != nil {
		t.Fatal(err)
	}

	t.Run("sums up each announcement published in the range, by department", func(t *testing.T) {
		for _, c := range []struct{ from, to, want string }{
			{"2030-03-10", "2030-03-10", "March policy 3 2 1 [{IT 1 1 0} {Sales 2 1 1}]|"},
			{"2030-03-10", "2030-03-12", "Holiday 3 0 0|March policy 3 2 1|"},
			{"2030-03-11", "2030-03-11", ""},
		} {
			got, err := s.Reach(ctx, opsUser, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			var b string
			for _, r := range got {
				if c.from == c.to {
					b += fmt.Sprintf("%s %d %d %d %v|", r.Title, r.AudienceSize, r.Read, r.Acknowledged, depts(r.ByDepartment))
				} else {
					b += fmt.Sprintf("%s %d %d %d|", r.Title, r.AudienceSize, r.Read, r.Acknowledged)
				}
			}
			if b != c.want {
				t.Errorf("%s..%s: %q, want %q", c.from, c.to, b, c.want)
			}
		}
		_ = second
	})
	t.Run("only ops; a bad range names the field", func(t *testing.T) {
		if _, err := s.Reach(ctx, &auth.Principal{UserID: "u1"}, "2030-03-10", "2030-03-10"); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("employee: %v", err)
		}
		for _, c := range [][3]string{{"x", "2030-03-10", "from"}, {"2030-03-10", "2030-03-09", "to"}, {"2029-01-01", "2030-12-31", "to"}} {
			if _, err := s.Reach(ctx, opsUser, c[0], c[1]); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("%v: %v", c, err)
			} else if ae, _ := apperr.As(err); ae.Field != c[2] {
				t.Errorf("%v: field %q", c, ae.Field)
			}
		}
	})
}

func depts(ds []DepartmentStats) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("{%s %d %d %d}", d.Department, d.Audience, d.Read, d.Acknowledged))
	}
	return out
}
