package inbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

type inboxPull struct {
	Changes map[string]struct {
		Created, Updated []inbox.SyncRecord
		Deleted          []string
	}
	Timestamp int64
}

// syncFixture is a fixture whose store stamps its writes through a started sync engine.
func syncFixture(t *testing.T) (*fixture, *datasync.Engine) {
	f := newFixture(t)
	e := &datasync.Engine{DB: f.store.DB, Now: f.clock.Now}
	f.store.Sync = e
	e.Register(f.store.SyncTable())
	if err := e.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f, e
}

func syncPull(t *testing.T, e *datasync.Engine, user string, since int64) inboxPull {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Pull(context.Background(), principal(user), since, &buf); err != nil {
		t.Fatal(err)
	}
	var r inboxPull
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if r.Timestamp < 1 || len(r.Changes["inbox"].Created) != 0 {
		t.Fatalf("pull must answer a positive timestamp and every item in updated: %s", buf.String())
	}
	return r
}

func recIDs(recs []inbox.SyncRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

func TestSyncTable(t *testing.T) {
	f, e := syncFixture(t)
	f.add(t, f.item("en", "n1"), f.item("en", "n2"), f.item("zh", "n1"))
	first := syncPull(t, e, "en", 0)
	if got := first.Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"n1", "n2"}) || got.Updated[0].Title != "Title n1" {
		t.Fatalf("first sync %+v", got)
	}
	cursor := first.Timestamp

	t.Run("sends a new item as updated and nothing else", func(t *testing.T) {
		f.add(t, f.item("en", "n3"))
		r := syncPull(t, e, "en", cursor)
		if got := r.Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"n3"}) {
			t.Fatalf("pull %+v", got)
		}
		cursor = r.Timestamp
	})
	readAt := f.clock.Now().UnixMilli() // the phone's clock when the user opened the item
	t.Run("marks an item read through a push and sends it back updated", func(t *testing.T) {
		res, err := e.Push(f.ctx, principal("en"), cursor, fmt.Appendf(nil, `{"changes":{"inbox":{"updated":[{"id":"n1","read_at":%d}]}}}`, readAt))
		if err != nil || res.Accepted != 1 || len(res.Rejected) != 0 {
			t.Fatalf("push %+v, %v", res, err)
		}
		r := syncPull(t, e, "en", cursor)
		if got := r.Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"n1"}) || got.Updated[0].ReadAt == nil {
			t.Fatalf("pull %+v", got)
		}
		cursor = r.Timestamp
		if n := f.unread(t, "en"); n != 2 {
			t.Fatalf("%d unread, want 2", n)
		}
	})
	t.Run("rejects every other change", func(t *testing.T) {
		res, err := e.Push(f.ctx, principal("en"), cursor, []byte(`{"changes":{"inbox":{
			"created":[{"id":"forged","title":"x"}],
			"updated":[{"id":"n2","title":"renamed"},{"id":"missing","read_at":`+strconv.FormatInt(readAt, 10)+`}],
			"deleted":["n3"]}}}`))
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]apperr.Code{}
		for _, r := range res.Rejected {
			codes[r.ID] = r.Code
		}
		want := map[string]apperr.Code{"forged": apperr.Forbidden, "n2": apperr.Invalid, "missing": apperr.NotFound, "n3": apperr.Forbidden}
		if res.Accepted != 0 || !maps.Equal(codes, want) {
			t.Fatalf("push %+v", res)
		}
	})
	t.Run("cannot mark someone else's item read", func(t *testing.T) {
		res, err := e.Push(f.ctx, principal("en"), cursor, fmt.Appendf(nil, `{"changes":{"inbox":{"updated":[{"id":"zh/n1","read_at":%d}]}}}`, readAt))
		if err != nil || res.Accepted != 0 || len(res.Rejected) != 1 {
			t.Fatalf("push %+v, %v", res, err)
		}
		if n := f.unread(t, "zh"); n != 1 {
			t.Fatalf("zh has %d unread, want 1", n)
		}
	})
	t.Run("rejects a read_at that is not a sane time, naming it, and leaves the item unread", func(t *testing.T) {
		for _, bad := range []string{"1", "253402300800000", fmt.Sprint(f.clock.Now().Add(49 * time.Hour).UnixMilli()), `"yesterday"`, "true", "1.5"} {
			res, err := e.Push(f.ctx, principal("en"), cursor, []byte(`{"changes":{"inbox":{"updated":[{"id":"n2","read_at":`+bad+`}]}}}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != apperr.Invalid || res.Rejected[0].Field != "read_at" {
				t.Fatalf("read_at %s: push %+v", bad, res)
			}
		}
		if n := f.unread(t, "en"); n != 2 {
			t.Fatalf("%d unread, want 2", n)
		}
	})
	t.Run("mark all read resends every item with its read time", func(t *testing.T) {
		if err := f.store.MarkAllRead(f.ctx, principal("en")); err != nil {
			t.Fatal(err)
		}
		r := syncPull(t, e, "en", cursor)
		got := r.Changes["inbox"]
		if !slices.Equal(recIDs(got.Updated), []string{"n1", "n2", "n3"}) {
			t.Fatalf("pull %+v", got)
		}
		for _, rec := range got.Updated {
			if rec.ReadAt == nil {
				t.Fatalf("%s has no read_at", rec.ID)
			}
		}
		if other := syncPull(t, e, "zh", r.Timestamp); len(other.Changes["inbox"].Updated) != 0 {
			t.Fatalf("zh got %+v", other.Changes["inbox"])
		}
	})
}

// TestSyncRecordsFitWatermelonDBColumns: a WatermelonDB column holds a string, a number or a
// boolean (anything else is stored as null), so data, an object, travels as a JSON string; the
// app pushes the record back in that shape to mark it read.
func TestSyncRecordsFitWatermelonDBColumns(t *testing.T) {
	f, e := syncFixture(t)
	bare := f.item("en", "bare")
	bare.Data = nil
	f.add(t, f.item("en", "n1"), bare)
	var raw struct {
		Changes map[string]struct{ Updated []map[string]any }
	}
	var buf bytes.Buffer
	if err := e.Pull(f.ctx, principal("en"), 0, &buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	records := map[string]map[string]any{}
	for _, rec := range raw.Changes["inbox"].Updated {
		records[rec["id"].(string)] = rec
		for col, v := range rec {
			switch v.(type) {
			case string, float64, bool, nil:
			default:
				t.Errorf("%s.%s is %T (%v): no WatermelonDB column holds it", rec["id"], col, v, v)
			}
		}
	}
	t.Run("data is a JSON object in a string", func(t *testing.T) {
		s, ok := records["n1"]["data"].(string)
		var data map[string]string
		if !ok || json.Unmarshal([]byte(s), &data) != nil || !maps.Equal(data, map[string]string{"announcement_id": "n1"}) {
			t.Fatalf("data %#v", records["n1"]["data"])
		}
		if records["bare"]["data"] != "{}" {
			t.Fatalf("an item without data sends %#v, want \"{}\"", records["bare"]["data"])
		}
	})
	t.Run("the record pushed back as the app stores it marks it read", func(t *testing.T) {
		rec := records["n1"]
		rec["read_at"], rec["_status"], rec["_changed"] = f.clock.Now().UnixMilli(), "updated", "read_at"
		body, _ := json.Marshal(map[string]any{"changes": map[string]any{"inbox": map[string]any{
			"created": []any{}, "updated": []any{rec}, "deleted": []any{}}}})
		res, err := e.Push(f.ctx, principal("en"), 0, body)
		if err != nil || res.Accepted != 1 || len(res.Rejected) != 0 {
			t.Fatalf("push %+v, %v", res, err)
		}
		if n := f.unread(t, "en"); n != 1 {
			t.Fatalf("%d unread, want 1", n)
		}
	})
}

// TestAddBoundsEachSyncWrite: a fan-out's thousands of items are written in sync writes of at
// most MaxWriteItems (one sequence number each), and a replay of them still reaches every user.
func TestAddBoundsEachSyncWrite(t *testing.T) {
	f, e := syncFixture(t)
	n := 2*inbox.MaxWriteItems + 50
	items := make([]push.InboxItem, n)
	for i := range items {
		items[i] = f.item("u"+strconv.Itoa(i), "fan")
	}
	f.add(t, items...)
	var docs []struct {
		Seq int64 `bson:"_seq"`
	}
	cur, err := f.store.DB.Collection("inbox").Find(f.ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(f.ctx, &docs); err != nil {
		t.Fatal(err)
	}
	perSeq := map[int64]int{}
	for _, d := range docs {
		perSeq[d.Seq]++
	}
	if len(docs) != n || len(perSeq) != 3 {
		t.Fatalf("%d items under %d sequence numbers, want %d under 3", len(docs), len(perSeq), n)
	}
	for seq, c := range perSeq {
		if c > inbox.MaxWriteItems {
			t.Errorf("sequence number %d stamps %d items, more than %d", seq, c, inbox.MaxWriteItems)
		}
	}
	before := syncPull(t, e, "u0", 0).Timestamp
	f.add(t, items...) // the fan-out's flush written again after a crash
	for _, u := range []string{"u0", "u" + strconv.Itoa(n-1)} {
		if got := syncPull(t, e, u, before).Changes["inbox"].Updated; len(got) != 1 {
			t.Errorf("%s pulled %d items after the replay, want its 1", u, len(got))
		}
	}
}

// TestIncrementalPullReadsTheNamedItemsByID checks that an incremental pull reads the items the
// sync engine names as changed (every inbox write names them) one by one by id, and does not
// query the inbox by cursor: on the stand-in FerretDB that query reads every user's items. A
// stray item stamped with a newer number behind the engine's back, which the cursor query
// would send, proves which way the pull went.
func TestIncrementalPullReadsTheNamedItemsByID(t *testing.T) {
	f, e := syncFixture(t)
	f.add(t, f.item("en", "n1"), f.item("zh", "n1"))
	cursor := syncPull(t, e, "en", 0).Timestamp
	stray := bson.D{{Key: "_id", Value: inbox.ItemID("en", "stray")}, {Key: "user_id", Value: "en"},
		{Key: "notification_id", Value: "stray"}, {Key: "category", Value: string(push.CategoryAnnouncement)},
		{Key: "title", Value: bson.D{{Key: "en", Value: "Stray"}}}, {Key: "created_at", Value: f.clock.Now()},
		{Key: "_seq", Value: cursor + 1_000_000}}
	if _, err := f.store.DB.Collection("inbox").InsertOne(f.ctx, stray); err != nil {
		t.Fatal(err)
	}
	f.add(t, f.item("en", "n2"), f.item("zh", "n2"))
	if _, err := e.Push(f.ctx, principal("en"), cursor, fmt.Appendf(nil,
		`{"changes":{"inbox":{"updated":[{"id":"n1","read_at":%d}]}}}`, f.clock.Now().UnixMilli())); err != nil {
		t.Fatal(err)
	}
	r := syncPull(t, e, "en", cursor)
	if got := r.Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"n1", "n2"}) || got.Updated[0].ReadAt == nil {
		t.Fatalf("incremental pull %+v: want n1 (read) and n2, each read by id", got)
	}
	if got := syncPull(t, e, "en", 0).Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"n1", "n2", "stray"}) {
		t.Fatalf("first sync %+v: the stray item is a valid item", got)
	}
}
