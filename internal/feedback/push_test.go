package feedback

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	datasync "github.com/mportal/mportal/sync"
)

func TestPushFeedback(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()

	t.Run("creates offline feedback once however often the push is replayed", func(t *testing.T) {
		batch := map[string]changes{"feedback": {Created: []any{newRecord("fb1", "  The scanner app crashes  "), newRecord("fb2", "Map is slow")}}}
		for range 3 {
			wantAccepted(t, f.push(alice, batch), 2)
		}
		if n := f.count(feedbackColl); n != 2 {
			t.Fatalf("%d feedback documents, want 2", n)
		}
		d := f.doc("fb1")
		if d.Text != "The scanner app crashes" || d.AuthorID != "alice" || d.AuthorName != "Alice Field" ||
			d.Department != "Field Ops" || d.Status != StatusNew || d.Build != 230 || *d.AccuracyM != 12.5 {
			t.Fatalf("stored %+v", d)
		}
	})
	t.Run("two concurrent copies of a push create each record once", func(t *testing.T) {
		batch := map[string]changes{"feedback": {Created: []any{newRecord("fb-c1", "one"), newRecord("fb-c2", "two")}}}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if res := f.push(alice, batch); res.Accepted != 2 || len(res.Rejected) != 0 {
					t.Errorf("copy: %+v", res)
				}
			})
		}
		wg.Wait()
		n, err := f.svc.coll(feedbackColl).CountDocuments(ctx, map[string]any{"_id": map[string]any{"$in": []string{"fb-c1", "fb-c2"}}})
		if err != nil || n != 2 {
			t.Fatalf("%d documents (%v), want 2", n, err)
		}
	})
	t.Run("a pull shows the author their feedback with server columns", func(t *testing.T) {
		dev := f.device(alice)
		dev.sync()
		r := dev.get("feedback", "fb1")
		if r == nil || r["status"] != "new" || r["author_name"] != "Alice Field" || r["me_too_count"] != 0.0 {
			t.Fatalf("pulled %v", r)
		}
		other := f.device(bob)
		if other.sync(); len(other.records["feedback"]) != 0 {
			t.Fatalf("bob pulled alice's feedback: %v", other.records["feedback"])
		}
	})
	t.Run("rejects invalid records with the column and applies the rest", func(t *testing.T) {
		res := f.push(alice, map[string]changes{"feedback": {Created: []any{
			with(newRecord("bad1", "x"), "category", "rant"),
			with(newRecord("bad2", ""), "text", ""),
			with(newRecord("bad3", "x"), "latitude", 123.0),
			with(newRecord("bad4", "x"), "text", 42),
			newRecord("good1", "fine"),
		}}})
		if res.Accepted != 1 || len(res.Rejected) != 4 {
			t.Fatalf("result %+v", res)
		}
		for id, field := range map[string]string{"bad1": "category", "bad2": "text", "bad3": "latitude", "bad4": "text"} {
			wantRejected(t, res, id, apperr.Invalid)
			for _, r := range res.Rejected {
				if r.ID == id && r.Field != field {
					t.Errorf("%s: field %q, want %q", id, r.Field, field)
				}
			}
		}
		stored, err := f.engine.Rejects(ctx, alice)
		if err != nil || len(stored) < 4 {
			t.Fatalf("stored rejects %d (%v), want them kept", len(stored), err)
		}
	})
	t.Run("an update of an unknown id creates it", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{newRecord("fb-u", "late create")}}}), 1)
		if d := f.doc("fb-u"); d.Text != "late create" {
			t.Fatalf("stored %+v", d)
		}
	})
	t.Run("the last push wins the author-owned fields and ops fields are ignored", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{
			with(newRecord("fb2", "edited on the phone"), "category", "suggestion", "status", "resolved",
				"assignee_id", "alice", "me_too_count", 99, "author_id", "mallory", "latitude", nil, "longitude", nil, "accuracy_m", nil),
		}}}), 1)
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{
			with(newRecord("fb2", "edited on the tablet"), "category", "question"),
		}}}), 1)
		d := f.doc("fb2")
		if d.Text != "edited on the tablet" || d.Category != "question" || d.Status != StatusNew || d.AssigneeID != "" || d.AuthorID != "alice" {
			t.Fatalf("stored %+v", d)
		}
	})
}

func TestPushForgedIDs(t *testing.T) {
	f := newFixture(t, nil)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("secret", "alice's private report")}}}), 1)
	before := *f.doc("secret")

	for _, c := range []struct {
		name string
		ch   changes
	}{
		{"a forged create of someone else's id is rejected", changes{Created: []any{newRecord("secret", "bob was here")}}},
		{"a forged update is rejected", changes{Updated: []any{newRecord("secret", "bob was here")}}},
		{"a forged delete is rejected", changes{Deleted: []string{"secret"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := f.push(bob, map[string]changes{"feedback": c.ch})
			wantRejected(t, res, "secret", apperr.NotFound)
			after := f.doc("secret")
			if after.Text != before.Text || after.AuthorID != "alice" || after.Deleted || after.Seq != before.Seq {
				t.Fatalf("alice's feedback changed: %+v", after)
			}
		})
	}
	t.Run("comments and attachments on someone else's feedback are rejected", func(t *testing.T) {
		res := f.push(bob, map[string]changes{
			"feedback_comments":    {Created: []any{map[string]any{"id": "c-bob", "feedback_id": "secret", "text": "hi", "created_at": clientTime}}},
			"feedback_attachments": {Created: []any{attachment("a-bob", "secret")}},
		})
		wantRejected(t, res, "c-bob", apperr.NotFound)
		wantRejected(t, res, "a-bob", apperr.NotFound)
	})
}

func TestDeleteFeedback(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("gone", "typo"), newRecord("kept", "real bug")}}}), 2)
	phone, tablet := f.device(alice), f.device(alice)
	phone.sync()
	tablet.sync()

	t.Run("the author deletes new feedback and every device gets the tombstone", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"gone"}}}), 1)
		phone.sync()
		tablet.sync()
		if phone.get("feedback", "gone") != nil || tablet.get("feedback", "gone") != nil {
			t.Fatal("the delete did not reach both devices")
		}
		if !f.doc("gone").Deleted {
			t.Fatal("not a tombstone")
		}
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"gone"}}}), 1)
	})
	t.Run("feedback ops are handling cannot be deleted and stays", func(t *testing.T) {
		if _, err := f.svc.Update(ctx, olga, "kept", Update{Status: ptr(StatusAcknowledged)}); err != nil {
			t.Fatal(err)
		}
		wantRejected(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"kept"}}}), "kept", apperr.Conflict)
		if f.doc("kept").Deleted {
			t.Fatal("deleted")
		}
	})
	t.Run("new feedback ops replied to or noted cannot be deleted", func(t *testing.T) {
		// Before, only the status was checked: a delete took an unread ops reply with it.
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("replied", "x"), newRecord("noted", "y")}}}), 2)
		if _, err := f.svc.Reply(ctx, olga, "replied", "Which screen?"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Update(ctx, olga, "noted", Update{Resolution: ptr("probably the cache")}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"replied", "noted"} {
			wantRejected(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{id}}}), id, apperr.Conflict)
			if f.doc(id).Deleted {
				t.Fatalf("%s was deleted", id)
			}
		}
	})
	t.Run("closed feedback is not rewritten by its author", func(t *testing.T) {
		// Before, an edit after ops resolved it was accepted silently, and their resolution
		// stood next to a report they never read.
		if _, err := f.svc.Update(ctx, olga, "kept", Update{Status: ptr(StatusResolved), Resolution: ptr("fixed in 57")}); err != nil {
			t.Fatal(err)
		}
		phone.sync()
		same := with(phone.get("feedback", "kept"), "_status", "updated")
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{same}}}), 1) // unchanged: a replay
		edited := with(phone.get("feedback", "kept"), "text", "something else", "_status", "updated")
		wantRejected(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{edited}}}), "kept", apperr.Conflict)
		if d := f.doc("kept"); d.Text != "real bug" {
			t.Fatalf("text %q", d.Text)
		}
	})
	t.Run("a replayed create of deleted feedback does not bring it back", func(t *testing.T) {
		wantRejected(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("gone", "typo")}}}), "gone", apperr.Conflict)
		if !f.doc("gone").Deleted {
			t.Fatal("resurrected")
		}
	})
}

// TestOfflineEditVersusOpsChange is the conflict matrix: an author edit made offline and an ops
// status change both survive, whichever reaches the server first.
func TestOfflineEditVersusOpsChange(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		opsFirst bool
	}{
		{"the ops change lands before the offline edit is pushed", true},
		{"the offline edit is pushed before the ops change", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "m" + map[bool]string{true: "ops", false: "edit"}[c.opsFirst]
			wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord(id, "original")}}}), 1)
			dev := f.device(alice)
			dev.sync()
			// Offline, the device still holds status new; the push carries it.
			edit := with(dev.get("feedback", id), "text", "edited offline", "_status", "updated")
			opsChange := func() {
				if _, err := f.svc.Update(ctx, olga, id, Update{Status: ptr(StatusAcknowledged), Resolution: ptr("looking")}); err != nil {
					t.Fatal(err)
				}
			}
			if c.opsFirst {
				opsChange()
			}
			wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Updated: []any{edit}}}), 1)
			if !c.opsFirst {
				opsChange()
			}
			d := f.doc(id)
			if d.Text != "edited offline" || d.Status != StatusAcknowledged || d.Resolution != "looking" {
				t.Fatalf("stored text %q status %q resolution %q", d.Text, d.Status, d.Resolution)
			}
			dev.sync()
			if r := dev.get("feedback", id); r["text"] != "edited offline" || r["status"] != StatusAcknowledged {
				t.Fatalf("device has %v", r)
			}
		})
	}
}

// TestPushRerun runs a table's Push again with a newer sequence number, as the engine does when
// a write outlives its lease: nothing is created twice and the records carry the newer number,
// so that pullers whose cursor passed the old one still get them.
func TestPushRerun(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tables := f.svc.Tables()
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("parent", "has children")}}}), 1)
	for i, seq := range []int64{1000, 1001} {
		for _, c := range []struct {
			table int
			rec   any
		}{
			{0, newRecord("rerun", "slow writer")},
			{1, map[string]any{"id": "rerun-c", "feedback_id": "parent", "text": "a comment", "created_at": clientTime}},
			{2, attachment("rerun-a", "parent")},
		} {
			ap, err := tables[c.table].Push(ctx, alice, seq, datasync.Changes{Created: []json.RawMessage{raw(c.rec)}})
			if err != nil || ap.Count != 1 || len(ap.Rejected) != 0 {
				t.Fatalf("run %d of %s: %+v, %v", i+1, tables[c.table].Name(), ap, err)
			}
		}
	}
	for _, coll := range []string{feedbackColl, commentsColl, attachmentsColl} {
		var m datasync.Meta
		id := map[string]string{feedbackColl: "rerun", commentsColl: "rerun-c", attachmentsColl: "rerun-a"}[coll]
		if err := f.svc.findByID(ctx, coll, id, coll, &m); err != nil || m.Seq != 1001 || m.CreatedSeq != 1000 {
			t.Fatalf("%s: seq %d created %d (%v), want 1001 and 1000", coll, m.Seq, m.CreatedSeq, err)
		}
	}
	if n := f.count(feedbackColl); n != 2 {
		t.Fatalf("%d feedback documents", n)
	}
}

func TestChildren(t *testing.T) {
	f := newFixture(t, nil)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("p", "parent")}}}), 1)
	comment := map[string]any{"id": "c1", "feedback_id": "p", "text": "first", "created_at": clientTime}
	wantAccepted(t, f.push(alice, map[string]changes{
		"feedback_comments":    {Created: []any{comment}},
		"feedback_attachments": {Created: []any{attachment("a1", "p")}},
	}), 2)
	dev := f.device(alice)
	dev.sync()

	t.Run("the author edits their comment and the last push wins", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback_comments": {Updated: []any{with(comment, "text", "second")}}}), 1)
		dev.sync()
		if c := dev.get("feedback_comments", "c1"); c["text"] != "second" {
			t.Fatalf("pulled %v", c)
		}
		wantRejected(t, f.push(bob, map[string]changes{"feedback_comments": {Updated: []any{with(comment, "text", "bob")}}}), "c1", apperr.NotFound)
	})
	t.Run("deleting the feedback deletes its comments and attachments on every device", func(t *testing.T) {
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"p"}}}), 1)
		dev.sync()
		if len(dev.records["feedback"])+len(dev.records["feedback_comments"])+len(dev.records["feedback_attachments"]) != 0 {
			t.Fatalf("left on the device: %v", dev.records)
		}
		if _, comments, _ := f.svc.counts.of("p", ""); comments != 0 {
			t.Fatalf("comment count %d", comments)
		}
	})
}

// TestPushesNameTheirRecords checks that a push's touches name every record it wrote under each
// key it touched, so that pulls may read them by id (datasync.Query.Exact), and that a comment
// push names the parent feedback it restamps.
func TestPushesNameTheirRecords(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, err := feedbackTable{s: f.svc}.Push(ctx, alice, 7, datasync.Changes{Created: []json.RawMessage{raw(newRecord("nm1", "one")), raw(newRecord("nm2", "two"))}})
	if err != nil || a.Count != 2 || len(a.Touches) != 1 {
		t.Fatalf("push: %+v, %v", a, err)
	}
	touch := a.Touches[0]
	var named []string
	for _, r := range touch.Records {
		if !slices.Contains(touch.Keys, r.Key) {
			t.Errorf("record %s named under %s, which the touch does not hold (%v)", r.ID, r.Key, touch.Keys)
		}
		named = append(named, r.ID+"@"+r.Key)
	}
	for _, id := range []string{"nm1", "nm2"} {
		for _, k := range touch.Keys {
			if !slices.Contains(named, id+"@"+k) {
				t.Errorf("%s not named under %s: %v", id, k, named)
			}
		}
	}
	c, err := commentsTable{s: f.svc}.Push(ctx, alice, 8, datasync.Changes{Created: []json.RawMessage{raw(map[string]any{"id": "nc1", "feedback_id": "nm1", "text": "more", "created_at": clientTime})}})
	if err != nil || c.Count != 1 || len(c.Touches) != 2 {
		t.Fatalf("comment push: %+v, %v", c, err)
	}
	for _, tc := range c.Touches {
		switch tc.Table {
		case commentsColl:
			if len(tc.Records) == 0 || tc.Records[0].ID != "nc1" {
				t.Errorf("comments touch %+v, want nc1 named", tc)
			}
		case feedbackColl: // the parent, restamped for its comment_count
			if len(tc.Records) == 0 || len(tc.Records) != len(tc.Keys) || tc.Records[0].ID != "nm1" {
				t.Errorf("feedback touch %+v, want the parent nm1 named under each of its keys", tc)
			}
		}
	}
}
