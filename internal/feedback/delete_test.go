package feedback

import (
	"context"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

// TestPushedDeleteOfAbsentRecords: WatermelonDB pushes the deletion of a record created and
// deleted offline, an id the server never saw, and pushes it again with every sync until the
// server accepts it. Deleting what is not there (or no longer there) is accepted as a no-op in
// every feedback table; deleting someone else's live record stays a rejection.
func TestPushedDeleteOfAbsentRecords(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	comment := func(id, feedbackID string) map[string]any {
		return map[string]any{"id": id, "feedback_id": feedbackID, "text": "note", "created_at": clientTime}
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("p", "parent"), newRecord("q", "other")}}}), 2)
	wantAccepted(t, f.push(alice, map[string]changes{
		"feedback_comments":    {Created: []any{comment("c1", "p"), comment("c2", "q")}},
		"feedback_attachments": {Created: []any{attachment("a1", "p"), attachment("a2", "q")}},
	}), 4)
	deleteAll := func(feedbackID, commentID, attachmentID string) map[string]changes {
		return map[string]changes{
			"feedback":             {Deleted: []string{feedbackID}},
			"feedback_comments":    {Deleted: []string{commentID}},
			"feedback_attachments": {Deleted: []string{attachmentID}},
		}
	}
	counts := func() [3]int64 {
		return [3]int64{f.count(feedbackColl), f.count(commentsColl), f.count(attachmentsColl)}
	}
	before := counts()

	t.Run("a delete of an id the server never saw is accepted and changes nothing", func(t *testing.T) {
		for range 2 { // the app pushes it again if it was lost: still a no-op
			wantAccepted(t, f.push(alice, deleteAll("never-f", "never-c", "never-a")), 3)
		}
		if after := counts(); after != before {
			t.Fatalf("documents %v, want %v", after, before)
		}
		if stored, err := f.engine.Rejects(ctx, alice); err != nil || len(stored) != 0 {
			t.Fatalf("stored rejects %+v (%v), want none", stored, err)
		}
	})
	t.Run("a delete of someone else's live record stays a not_found rejection", func(t *testing.T) {
		res := f.push(bob, deleteAll("q", "c2", "a2"))
		if res.Accepted != 0 || len(res.Rejected) != 3 {
			t.Fatalf("result %+v", res)
		}
		for _, id := range []string{"q", "c2", "a2"} {
			wantRejected(t, res, id, apperr.NotFound)
		}
		if f.doc("q").Deleted {
			t.Fatal("bob deleted alice's feedback")
		}
		dev := f.device(alice)
		dev.sync()
		if dev.get("feedback_comments", "c2") == nil || dev.get("feedback_attachments", "a2") == nil {
			t.Fatalf("alice lost her records: %v", dev.records)
		}
	})
	t.Run("a delete of a record already deleted is accepted, whoever pushes it", func(t *testing.T) {
		wantAccepted(t, f.push(alice, deleteAll("p", "c1", "a1")), 3)
		deleted := f.doc("p").Seq
		wantAccepted(t, f.push(alice, deleteAll("p", "c1", "a1")), 3)
		replayed := f.doc("p").Seq
		if replayed <= deleted {
			t.Fatalf("alice's replay left the tombstone at %d: it must restamp it", replayed)
		}
		wantAccepted(t, f.push(bob, deleteAll("p", "c1", "a1")), 3)
		if d := f.doc("p"); !d.Deleted || d.AuthorID != "alice" || d.Seq != replayed {
			t.Fatalf("tombstone %+v after bob's delete, want it untouched at seq %d", d, replayed)
		}
		if after := counts(); after != before {
			t.Fatalf("documents %v, want %v", after, before)
		}
	})
	t.Run("an update of an unknown comment is still rejected", func(t *testing.T) {
		res := f.push(alice, map[string]changes{"feedback_comments": {Updated: []any{comment("c-new", "gone-parent")}}})
		wantRejected(t, res, "c-new", apperr.NotFound)
	})
}
