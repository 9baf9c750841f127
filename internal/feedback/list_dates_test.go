package feedback

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// TestTriageByReceivedDay filters the triage list (served from memory) and the export (read
// from the database) by the UTC days the feedback was received on.
func TestTriageByReceivedDay(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	day := serverTime.Format(time.DateOnly)                    // d1 arrives on this day
	next := serverTime.AddDate(0, 0, 1).Format(time.DateOnly)  // nothing arrives
	later := serverTime.AddDate(0, 0, 2).Format(time.DateOnly) // d2 arrives
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("d1", "first day")}}}), 1)
	f.clock.Advance(48 * time.Hour)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("d2", "third day")}}}), 1)

	for _, c := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"both ends", day, later, []string{"d2", "d1"}},
		{"one day, included", day, day, []string{"d1"}},
		{"from a day on", next, "", []string{"d2"}},
		{"up to a day", "", next, []string{"d1"}},
		{"a day without feedback", next, next, nil},
	} {
		t.Run("selects "+c.name, func(t *testing.T) {
			filter := Filter{From: c.from, To: c.to}
			items, _, err := f.svc.List(ctx, olga, filter)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, it := range items {
				listed = append(listed, it.ID)
			}
			write, err := f.svc.Export(ctx, olga, filter)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := write(ctx, &buf); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var exported []string
			for _, r := range rows[1:] {
				exported = append(exported, r[0])
			}
			slices.Sort(exported)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if strings.Join(listed, ",") != strings.Join(c.want, ",") || strings.Join(exported, ",") != strings.Join(want, ",") {
				t.Errorf("%s..%s: listed %v, exported %v, want %v", c.from, c.to, listed, exported, c.want)
			}
		})
	}
	t.Run("refuses dates that are not days, or a reversed range, naming the field", func(t *testing.T) {
		for _, c := range []struct {
			f     Filter
			field string
		}{
			{Filter{From: "20-11-2026"}, "from"},
			{Filter{To: "2026-11-20T00:00:00Z"}, "to"},
			{Filter{From: later, To: day}, "to"},
		} {
			_, _, err := f.svc.List(ctx, olga, c.f)
			var e *apperr.Error
			if !apperr.Is(err, apperr.Invalid) || !errors.As(err, &e) || e.Field != c.field {
				t.Errorf("%+v: %v, want invalid naming %s", c.f, err, c.field)
			}
		}
	})
}
