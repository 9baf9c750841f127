package feedback

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	datasync "github.com/mportal/mportal/sync"
)

// year10000 is the first millisecond time.Time cannot write as JSON.
const year10000 = 253402300800000

// wantRejectedField checks that id was rejected with code and field, in the push's answer and in
// the user's stored rejects.
func (f *fixture) wantRejectedField(res *datasync.PushResult, userID, id string, code apperr.Code, field string) {
	f.t.Helper()
	wantRejected(f.t, res, id, code)
	for _, r := range res.Rejected {
		if r.ID == id && r.Field != field {
			f.t.Fatalf("%s rejected on field %q (%s), want %q", id, r.Field, r.Detail, field)
		}
	}
	rejects, err := f.engine.Rejects(context.Background(), &auth.Principal{UserID: userID})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range rejects {
		if r.RecordID == id && r.Code == code && r.Field == field {
			return
		}
	}
	f.t.Fatalf("%s is not among %s's rejects with %s/%s: %+v", id, userID, code, field, rejects)
}

func TestClientTimesAreRangeChecked(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	now := time.UnixMilli(clientTime).Add(time.Hour) // the server's clock, an hour after the phone's
	f.svc.Now = func() time.Time { return now }
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("fb-ok", "fine")}}}), 1)

	for _, tc := range []struct {
		name string
		at   int64
	}{
		{"rejects the year 10000", year10000},
		{"rejects a time before 2000", clienttime.Earliest - 1},
		{"rejects a time in seconds", clientTime / 1000},
		{"rejects a clock more than a day ahead of the server's", now.Add(25 * time.Hour).UnixMilli()},
	} {
		t.Run(tc.name+" on feedback, comments and attachments", func(t *testing.T) {
			res := f.push(alice, map[string]changes{
				"feedback":             {Created: []any{with(newRecord("fb-bad", "bad clock"), "created_at", tc.at)}},
				"feedback_comments":    {Created: []any{map[string]any{"id": "c-bad", "feedback_id": "fb-ok", "text": "x", "created_at": tc.at}}},
				"feedback_attachments": {Created: []any{with(attachment("a-bad", "fb-ok"), "created_at", tc.at)}},
			})
			if res.Accepted != 0 {
				t.Fatalf("accepted %d: %+v", res.Accepted, res)
			}
			for _, id := range []string{"fb-bad", "c-bad", "a-bad"} {
				f.wantRejectedField(res, "alice", id, apperr.Invalid, "created_at")
			}
			// Replayed as an update (WatermelonDB sends edits as updated), it is refused the same.
			res = f.push(alice, map[string]changes{"feedback": {Updated: []any{with(newRecord("fb-bad", "bad clock"), "created_at", tc.at)}}})
			f.wantRejectedField(res, "alice", "fb-bad", apperr.Invalid, "created_at")
		})
	}
	t.Run("accepts a clock up to a day ahead of the server's", func(t *testing.T) {
		at := now.Add(23 * time.Hour).UnixMilli()
		wantAccepted(t, f.push(alice, map[string]changes{
			"feedback":          {Created: []any{with(newRecord("fb-fast", "fast clock"), "created_at", at)}},
			"feedback_comments": {Created: []any{map[string]any{"id": "c-fast", "feedback_id": "fb-ok", "text": "x", "created_at": at}}},
		}), 2)
	})
	if n := f.count(feedbackColl); n != 2 {
		t.Fatalf("%d feedback stored, want 2", n)
	}
}

func TestStoredBadTimesDoNotBreakReads(t *testing.T) {
	// Records stored before times were checked may hold any value; one of them must not fail
	// the triage list or a detail view (time.Time cannot marshal the year 10000).
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{
		"feedback": {Created: []any{newRecord("fb-old", "stored long ago"), newRecord("fb-fine", "fine")}},
	}), 2)
	wantAccepted(t, f.push(alice, map[string]changes{
		"feedback_comments":    {Created: []any{map[string]any{"id": "c-old", "feedback_id": "fb-old", "text": "x", "created_at": clientTime}}},
		"feedback_attachments": {Created: []any{attachment("a-old", "fb-old")}},
	}), 2)
	for coll, id := range map[string]string{feedbackColl: "fb-old", commentsColl: "c-old", attachmentsColl: "a-old"} {
		if _, err := f.svc.coll(coll).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "created_at", Value: int64(year10000)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	list, _, err := f.svc.List(ctx, olga, Filter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d items, %v", len(list), err)
	}
	if _, err := json.Marshal(list); err != nil {
		t.Fatalf("the triage list does not render: %v", err)
	}
	for _, get := range []func() (*Feedback, error){
		func() (*Feedback, error) { return f.svc.Get(ctx, alice, "fb-old") },
		func() (*Feedback, error) { return f.svc.OpsGet(ctx, olga, "fb-old") },
	} {
		fb, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(fb); err != nil {
			t.Fatalf("the detail view does not render: %v", err)
		}
		if len(fb.Comments) != 1 || len(fb.Attachments) != 1 || fb.Comments[0].CreatedAt.Year() != 9999 {
			t.Fatalf("detail %+v", fb)
		}
	}
	mine, _, err := f.svc.Mine(ctx, alice, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(mine); err != nil {
		t.Fatalf("the author's list does not render: %v", err)
	}
}
