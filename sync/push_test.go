package datasync

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
)

func countNotes(t *testing.T, n *notesTable) int64 {
	t.Helper()
	c, err := n.db.Collection("notes").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPushIsIdempotent(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	alice := employee("alice")
	body := []byte(`{"changes":{"notes":{"created":[{"id":"n1","text":"hello"},{"id":"n2","text":"world"}],"updated":[],"deleted":[]}}}`)

	t.Run("a replayed push creates nothing twice", func(t *testing.T) {
		for range 3 {
			res, err := e.Push(ctx, alice, 0, body)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != 2 || len(res.Rejected) != 0 {
				t.Fatalf("push %+v", res)
			}
		}
		if n := countNotes(t, notes); n != 2 {
			t.Fatalf("%d notes, want 2", n)
		}
	})
	t.Run("concurrent copies of a push create nothing twice", func(t *testing.T) {
		copyBody := []byte(`{"changes":{"notes":{"created":[{"id":"c1","text":"a"},{"id":"c2","text":"b"},{"id":"c3","text":"c"}]}}}`)
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if _, err := e.Push(ctx, alice, 0, copyBody); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := countNotes(t, notes); n != 5 {
			t.Fatalf("%d notes, want 5", n)
		}
		r := pull(t, e, alice, 0)
		if len(r.Changes["notes"].Updated) != 5 {
			t.Fatalf("pull %+v", r.Changes["notes"])
		}
	})
	t.Run("a created record that exists is an update by its author", func(t *testing.T) {
		before := pull(t, e, alice, 0).Timestamp
		res, err := e.Push(ctx, alice, before, []byte(`{"changes":{"notes":{"created":[{"id":"n1","text":"edited offline"}]}}}`))
		if err != nil || res.Accepted != 1 {
			t.Fatalf("push %+v, %v", res, err)
		}
		r := pull(t, e, alice, before)
		if up := r.Changes["notes"].Updated; len(up) != 1 || up[0]["text"] != "edited offline" {
			t.Fatalf("pull %+v", r.Changes["notes"])
		}
	})
}

func TestPushRejects(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	alice, mallory := employee("alice"), employee("mallory")
	if _, err := e.Push(ctx, alice, 0, []byte(`{"changes":{"notes":{"created":[{"id":"n1","text":"alice's"}]}}}`)); err != nil {
		t.Fatal(err)
	}

	t.Run("a malformed push applies nothing and names the record", func(t *testing.T) {
		_, err := e.Push(ctx, mallory, 0, []byte(`{"changes":{"notes":{"created":[{"id":"m1","text":"ok"},{"text":"no id"}]}}}`))
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "changes.notes.created[1].id" {
			t.Fatalf("error %v", err)
		}
		if n := countNotes(t, notes); n != 1 {
			t.Fatalf("%d notes, want 1", n)
		}
	})
	var rejectID string
	t.Run("a forged id and an invalid record are rejected, the rest applied", func(t *testing.T) {
		res, err := e.Push(ctx, mallory, 0, []byte(`{"changes":{"notes":{
			"created":[{"id":"m1","text":"mine"},{"id":"m2","text":""}],
			"updated":[{"id":"n1","text":"hijacked"}],
			"deleted":["n1"]}}}`))
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]apperr.Code{}
		for _, r := range res.Rejected {
			codes[r.ID+"/"+r.Field] = r.Code
		}
		want := map[string]apperr.Code{"m2/text": apperr.Invalid, "n1/": apperr.NotFound}
		if res.Accepted != 1 || len(res.Rejected) != 3 || fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Fatalf("push %+v", res)
		}
		var d noteDoc
		if err := notes.db.Collection("notes").FindOne(ctx, bson.D{{Key: "_id", Value: "n1"}}).Decode(&d); err != nil || d.Text != "alice's" || d.Deleted {
			t.Fatalf("alice's note became %+v (%v)", d, err)
		}
		rejectID = res.Rejected[0].RejectID
	})
	t.Run("rejects are kept for their author only and can be dismissed", func(t *testing.T) {
		list, err := e.Rejects(ctx, mallory)
		if err != nil || len(list) != 3 {
			t.Fatalf("rejects %+v, %v", list, err)
		}
		if others, _ := e.Rejects(ctx, alice); len(others) != 0 {
			t.Fatalf("alice sees %+v", others)
		}
		if err := e.DismissReject(ctx, alice, rejectID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("alice dismissed mallory's reject: %v", err)
		}
		if err := e.DismissReject(ctx, mallory, rejectID); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.Rejects(ctx, mallory); len(list) != 2 {
			t.Fatalf("after dismissal %d rejects", len(list))
		}
	})
	t.Run("a replayed push stores its rejects once", func(t *testing.T) {
		body := []byte(`{"changes":{"notes":{"created":[{"id":"m3","text":""}]}}}`)
		for range 2 {
			if _, err := e.Push(ctx, mallory, 0, body); err != nil {
				t.Fatal(err)
			}
		}
		if list, _ := e.Rejects(ctx, mallory); len(list) != 3 {
			t.Fatalf("%d rejects, want 3", len(list))
		}
	})
	t.Run("a large rejected record is kept as its start, and a listing holds a few MiB", func(t *testing.T) {
		// Before, each reject kept the whole record (up to a 1 MiB body), and a listing loaded
		// 500 of them.
		oscar := employee("oscar")
		big := strings.Repeat("é", maxRejectRecord) // twice the bytes kept
		const n = maxRejectsListed/maxRejectRecord + 10
		var b strings.Builder
		b.WriteString(`{"changes":{"notes":{"updated":[`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":"n1","text":"%d %s"}`, i, big) // alice's: not_found
		}
		b.WriteString(`]}}}`)
		res, err := e.Push(ctx, oscar, 0, []byte(b.String()))
		if err != nil || len(res.Rejected) != n || res.Rejected[0].RejectID == "" {
			t.Fatalf("push %d rejected, %v", len(res.Rejected), err)
		}
		list, err := e.Rejects(ctx, oscar)
		if err != nil {
			t.Fatal(err)
		}
		listed := 0
		for _, r := range list {
			var text string
			if err := json.Unmarshal(r.Record, &text); err != nil || !r.RecordTruncated || len(text) > maxRejectRecord ||
				!utf8.ValidString(text) || !strings.HasPrefix(text, `{"id":"n1","text":"`) {
				t.Fatalf("reject record %.80s… (%d bytes, truncated %v): %v", r.Record, len(r.Record), r.RecordTruncated, err)
			}
			listed += len(r.Record)
		}
		if len(list) == 0 || len(list) >= n || listed > maxRejectsListed+2*maxRejectRecord {
			t.Fatalf("listed %d of %d rejects, %d bytes of records", len(list), n, listed)
		}
	})
	t.Run("a user's stored rejects are bounded; those beyond are answered without an id", func(t *testing.T) {
		// Before, every rejected record of every push was kept until dismissed: a device pushing
		// records it may not write grew the collection without end.
		eve := employee("eve")
		var b strings.Builder
		b.WriteString(`{"changes":{"notes":{"created":[`)
		const n = maxStoredRejects + 100
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":"e%d","text":""}`, i)
		}
		b.WriteString(`]}}}`)
		res, err := e.Push(ctx, eve, 0, []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		withID := 0
		for _, r := range res.Rejected {
			if r.RejectID != "" {
				withID++
			}
		}
		stored, err := notes.db.Collection("sync_rejects").CountDocuments(ctx, bson.D{{Key: "user_id", Value: "eve"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rejected) != n || withID != maxStoredRejects || stored != maxStoredRejects {
			t.Fatalf("%d rejected, %d with a reject_id, %d stored; want %d, %d, %d",
				len(res.Rejected), withID, stored, n, maxStoredRejects, maxStoredRejects)
		}
	})
}
