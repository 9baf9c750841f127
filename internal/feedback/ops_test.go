package feedback

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/push"
)

func TestCanMove(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{StatusNew, StatusAcknowledged, true},
		{StatusAcknowledged, StatusInProgress, true},
		{StatusInProgress, StatusResolved, true},
		{StatusNew, StatusWontFix, true},
		{StatusAcknowledged, StatusResolved, true},
		{StatusResolved, StatusInProgress, true},
		{StatusWontFix, StatusInProgress, true},
		{StatusDuplicate, StatusInProgress, true},
		{StatusNew, StatusInProgress, false},
		{StatusInProgress, StatusAcknowledged, false},
		{StatusResolved, StatusWontFix, false},
		{StatusResolved, StatusNew, false},
		{StatusNew, StatusDuplicate, false},
	} {
		if got := canMove(c.from, c.to); got != c.ok {
			t.Errorf("canMove(%s, %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

func TestNextStatusesAreTheAllowedMoves(t *testing.T) {
	for _, from := range Statuses {
		next := NextStatuses(from)
		for _, to := range Statuses {
			if slices.Contains(next, to) != canMove(from, to) {
				t.Errorf("from %s: NextStatuses %v, canMove to %s %v", from, next, to, canMove(from, to))
			}
		}
	}
	if got := strings.Join(NextStatuses(StatusNew), ","); got != "new,acknowledged,resolved,wont_fix" {
		t.Errorf("from new: %s", got)
	}
}

func TestTriage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		newRecord("t1", "Crash on login"), with(newRecord("t2", "=HYPERLINK(\"evil\")"), "category", "incident"),
		with(newRecord("t3", "crash when scanning"), "build", 231),
	}}}), 3)

	t.Run("employees cannot use the triage methods", func(t *testing.T) {
		if _, _, err := f.svc.List(ctx, alice, Filter{}); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("List: %v", err)
		}
		if _, err := f.svc.Update(ctx, alice, "t1", Update{Status: ptr(StatusResolved)}); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("Update: %v", err)
		}
		if _, err := f.svc.Reply(ctx, alice, "t1", "hi"); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("Reply: %v", err)
		}
	})
	t.Run("ops filter by fields and search the text case-insensitively", func(t *testing.T) {
		for _, c := range []struct {
			f    Filter
			want []string
		}{
			{Filter{}, []string{"t3", "t2", "t1"}},
			{Filter{Q: "CRASH"}, []string{"t3", "t1"}},
			{Filter{Category: "incident"}, []string{"t2"}},
			{Filter{Build: ptr(int64(231))}, []string{"t3"}},
			{Filter{Department: "Field Ops", Channel: "beta", AppID: "com.example.portal", Status: "new"}, []string{"t3", "t2", "t1"}},
			{Filter{Q: "(\"evil"}, []string{"t2"}},
			{Filter{Q: "[a-z]"}, nil},
		} {
			items, _, err := f.svc.List(ctx, olga, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.ID)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%+v: got %v, want %v", c.f, got, c.want)
			}
		}
	})
	t.Run("pages with a cursor", func(t *testing.T) {
		first, next, err := f.svc.List(ctx, olga, Filter{Limit: 2})
		if err != nil || len(first) != 2 || next == "" {
			t.Fatalf("first page %v %q %v", first, next, err)
		}
		rest, next, err := f.svc.List(ctx, olga, Filter{Limit: 2, Cursor: next})
		if err != nil || len(rest) != 1 || next != "" || rest[0].ID == first[1].ID {
			t.Fatalf("second page %v %q %v", rest, next, err)
		}
		if _, _, err := f.svc.List(ctx, olga, Filter{Cursor: "garbage!"}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
	t.Run("status moves along the workflow and notifies the author each time", func(t *testing.T) {
		for i, st := range []string{StatusAcknowledged, StatusInProgress, StatusResolved, StatusInProgress} {
			fb, err := f.svc.Update(ctx, olga, "t1", Update{Status: ptr(st)})
			if err != nil || fb.Status != st || fb.UpdatedByOpsAt == nil {
				t.Fatalf("to %s: %+v, %v", st, fb, err)
			}
			n, ok := f.pusher.get("feedback_status:t1:" + string(rune('1'+i)))
			if !ok || n.Category != push.CategoryFeedbackReply || n.Audience.UserIDs[0] != "alice" || n.DeepLink != "mportal://feedback/t1" {
				t.Fatalf("notification %d: %+v %v", i+1, n, ok)
			}
		}
	})
	t.Run("rejects transitions the workflow does not allow", func(t *testing.T) {
		if _, err := f.svc.Update(ctx, olga, "t2", Update{Status: ptr(StatusInProgress)}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("new -> in_progress: %v", err)
		}
		if _, err := f.svc.Update(ctx, olga, "t2", Update{Status: ptr(StatusDuplicate)}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("-> duplicate: %v", err)
		}
		if _, err := f.svc.Update(ctx, olga, "nope", Update{Status: ptr(StatusAcknowledged)}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
	t.Run("assigns only to ops or admin users", func(t *testing.T) {
		if _, err := f.svc.Update(ctx, olga, "t2", Update{AssigneeID: ptr("bob")}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("bob: %v", err)
		}
		fb, err := f.svc.Update(ctx, olga, "t2", Update{AssigneeID: ptr("olga"), Resolution: ptr("checking")})
		if err != nil || fb.AssigneeID != "olga" || fb.Resolution != "checking" {
			t.Fatalf("%+v %v", fb, err)
		}
		if items, _, _ := f.svc.List(ctx, olga, Filter{AssigneeID: "olga"}); len(items) != 1 {
			t.Fatalf("assignee filter: %v", items)
		}
	})
	t.Run("merges a duplicate into another report", func(t *testing.T) {
		if _, err := f.svc.Merge(ctx, olga, "t3", "t3"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("into itself: %v", err)
		}
		fb, err := f.svc.Merge(ctx, olga, "t3", "t1")
		if err != nil || fb.Status != StatusDuplicate || fb.DuplicateOf != "t1" {
			t.Fatalf("%+v %v", fb, err)
		}
		if _, err := f.svc.Merge(ctx, olga, "t2", "t3"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("into a duplicate: %v", err)
		}
		if _, err := f.svc.Merge(ctx, olga, "t3", "t2"); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("a duplicate again: %v", err)
		}
		if d := f.doc("t1"); d.Status != StatusInProgress {
			t.Fatalf("target changed: %s", d.Status)
		}
	})
	t.Run("a reply reaches the author by pull and by push", func(t *testing.T) {
		c, err := f.svc.Reply(ctx, olga, "t1", "Fixed in build 232, please update")
		if err != nil || !c.FromOps || c.AuthorName != "Olga Ops" {
			t.Fatalf("%+v %v", c, err)
		}
		n, ok := f.pusher.get("feedback_reply:" + c.ID)
		if !ok || n.Category != push.CategoryFeedbackReply || n.Audience.UserIDs[0] != "alice" || n.Body["en"] == "" || n.Title["zh-CN"] == "" {
			t.Fatalf("notification %+v %v", n, ok)
		}
		dev := f.device(alice)
		dev.sync()
		if r := dev.get("feedback_comments", c.ID); r == nil || r["from_ops"] != true {
			t.Fatalf("pulled %v", r)
		}
		if r := dev.get("feedback", "t1"); r["status"] != StatusInProgress || r["comment_count"] != 1.0 {
			t.Fatalf("pulled %v", r)
		}
		fb, err := f.svc.OpsGet(ctx, olga, "t1")
		if err != nil || len(fb.Comments) != 1 {
			t.Fatalf("detail %+v %v", fb, err)
		}
	})
	t.Run("exports a formula-safe CSV follow-up table", func(t *testing.T) {
		write, err := f.svc.Export(ctx, olga, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := write(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Fatalf("%d rows: %v\n%s", len(rows), err, buf.String())
		}
		if strings.Join(rows[0], ",") != strings.Join(exportHeader, ",") {
			t.Fatalf("header %v", rows[0])
		}
		for _, r := range rows[1:] {
			if r[0] == "t2" && r[13] != "'=HYPERLINK(\"evil\")" {
				t.Fatalf("formula not defused: %q", r[13])
			}
			if r[0] == "t1" && (r[8] != StatusInProgress || r[12] != "1" || r[2] != "Alice Field") {
				t.Fatalf("row %v", r)
			}
		}
		if _, err := f.svc.Export(ctx, bob, Filter{}); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("employee export: %v", err)
		}
	})
}
