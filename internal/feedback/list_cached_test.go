package feedback

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListsFromMemory checks that the lists served from the in-memory copy (the embedded
// database's path) select, order and page exactly as the database query does (the MongoDB
// path), through a second service on the same database whose copy is off.
func TestListsFromMemory(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var recs []any
	for i := range 23 {
		r := newRecord(fmt.Sprintf("l%02d", i), fmt.Sprintf("Scanner %d drops", i))
		if i%3 == 0 {
			r = with(r, "category", "incident", "text", fmt.Sprintf("PRINTER %d jams", i))
		}
		if i%4 == 0 {
			r = with(r, "build", 231)
		}
		recs = append(recs, r)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: recs}}), 23)
	wantAccepted(t, f.push(bob, map[string]changes{"feedback": {Created: []any{newRecord("lb1", "bob's scanner")}}}), 1)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"l05", "l06"}}}), 2)
	for _, id := range []string{"l01", "l02", "l09"} {
		if _, err := f.svc.Update(ctx, olga, id, Update{Status: ptr(StatusAcknowledged)}); err != nil {
			t.Fatal(err)
		}
	}
	fromDB := &Service{DB: f.svc.DB, Sync: f.engine, Users: users, Grants: f.svc.Grants} // never started: no copy
	ids := func(t *testing.T, s *Service, list func(s *Service, cursor string) ([]Feedback, string, error)) []string {
		var out []string
		cursor := ""
		for {
			items, next, err := list(s, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				out = append(out, it.ID)
			}
			if next == "" {
				return out
			}
			cursor = next
		}
	}
	for _, filter := range []Filter{
		{}, {Status: StatusNew}, {Status: StatusAcknowledged}, {Category: "incident"}, {Q: "printer"},
		{Q: "SCANNER 1"}, {Build: ptr(int64(231))}, {Department: "Field Ops", Channel: "beta"}, {AppID: "nope"},
	} {
		t.Run(fmt.Sprintf("ops list %+v", filter), func(t *testing.T) {
			list := func(s *Service, cursor string) ([]Feedback, string, error) {
				g := filter
				g.Limit, g.Cursor = 4, cursor
				return s.List(ctx, olga, g)
			}
			want, got := ids(t, fromDB, list), ids(t, f.svc, list)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("memory differs from the database (-db +memory):\n%s", diff)
			}
		})
	}
	t.Run("the author's own list", func(t *testing.T) {
		list := func(s *Service, cursor string) ([]Feedback, string, error) { return s.Mine(ctx, alice, 5, cursor) }
		want, got := ids(t, fromDB, list), ids(t, f.svc, list)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("memory differs from the database (-db +memory):\n%s", diff)
		}
		if len(got) != 21 || strings.Contains(strings.Join(got, ","), "lb1") {
			t.Fatalf("alice lists %v", got)
		}
	})
}
