package main

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mportal/mportal/push"
)

// syncPull is a pull response as the tests read it.
type syncPull struct {
	Changes map[string]struct {
		Created []map[string]any `json:"created"`
		Updated []map[string]any `json:"updated"`
		Deleted []string         `json:"deleted"`
	} `json:"changes"`
	Timestamp  int64 `json:"timestamp"`
	FullResync bool  `json:"full_resync"`
}

type syncPushResult struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Table, ID, Code, Detail string
		RejectID                string `json:"reject_id"`
	} `json:"rejected"`
}

// syncPull pulls as an app of the current schema (2, see sync/README.md) would.
func (ts *testServer) syncPull(token string, since int64) syncPull {
	ts.t.Helper()
	var out syncPull
	ts.must(ts.call("GET", "/v1/sync/pull?schema_version=2&migration=null&last_pulled_at="+strconv.FormatInt(since, 10),
		token, nil), 200).json(ts.t, &out)
	out.check(ts.t)
	return out
}

// check fails the test on what WatermelonDB's synchronize() with sendCreatedAsUpdated refuses or
// mishandles: a timestamp that is not positive, or a record sent as created.
func (p syncPull) check(t *testing.T) {
	t.Helper()
	if p.Timestamp < 1 {
		t.Fatalf("pull answered timestamp %d, want a positive one", p.Timestamp)
	}
	for name, ch := range p.Changes {
		if len(ch.Created) != 0 {
			t.Fatalf("pull sent %d records of %s as created, want every live record in updated", len(ch.Created), name)
		}
	}
}

func (ts *testServer) syncPush(token string, since int64, changes map[string]any) syncPushResult {
	ts.t.Helper()
	var out syncPushResult
	ts.must(ts.call("POST", "/v1/sync/push?last_pulled_at="+strconv.FormatInt(since, 10), token,
		map[string]any{"changes": changes}), 200).json(ts.t, &out)
	return out
}

func ids(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i], _ = r["id"].(string)
	}
	return out
}

// syncFixture is a server with ops and two employees: alice in Field Ops and carol in Sales.
// Each subtest of TestSync builds its own.
type syncFixture struct {
	ts           *testServer
	ops          string
	alice, carol member
}

func newSyncFixture(t *testing.T) *syncFixture {
	t.Helper()
	ts := startServer(t, testEnv(t, nil))
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	return &syncFixture{ts: ts, ops: ts.newOps(admin, "E8000"),
		alice: ts.newMember(admin, "E8001", "Field Ops", "en"), carol: ts.newMember(admin, "E8002", "Sales", "en")}
}

// firstPull is alice's app's first sync; it returns the cursor for the next one.
func (f *syncFixture) firstPull(t *testing.T) int64 {
	t.Helper()
	var first syncPull
	f.ts.with(t).must(f.ts.call("GET", "/v1/sync/pull?last_pulled_at=null", f.alice.token, nil), 200).json(t, &first)
	first.check(t)
	return first.Timestamp
}

// depotClosed publishes the important "Depot closed" to Field Ops after alice's first sync and
// pulls it into her app; it returns the announcement's id and her cursor after that pull.
func (f *syncFixture) depotClosed(t *testing.T) (annID string, cursor int64) {
	t.Helper()
	ts := f.ts.with(t)
	since := f.firstPull(t)
	var ann opsAnnouncement
	ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
		"title": "Depot closed", "body": "The depot is closed **today**.",
		"audience": map[string]any{"departments": []string{"Field Ops"}}, "importance": "important",
	}), 201).json(t, &ann)
	ts.pushDone("announcement:" + ann.ID + ":publish")
	got := ts.syncPull(f.alice.token, since)
	if len(got.Changes["announcements"].Updated) != 1 {
		t.Fatalf("alice pulled %+v", got.Changes)
	}
	return ann.ID, got.Timestamp
}

// TestSync runs offline sync through HTTP as the app's WatermelonDB does: pulls, pushes,
// migrations, rejected records and announcements changing under a cursor. Each subtest starts
// its own server, so any of them runs alone.
func TestSync(t *testing.T) {
	t.Run("a first sync lists every table, empty", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		var first syncPull
		ts.must(ts.call("GET", "/v1/sync/pull?last_pulled_at=null", f.alice.token, nil), 200).json(t, &first)
		first.check(t) // the server is new: a timestamp of 0 would make synchronize() throw
		for _, table := range []string{"inbox", "announcements"} {
			ch, ok := first.Changes[table]
			if !ok || len(ch.Created)+len(ch.Updated)+len(ch.Deleted) != 0 {
				t.Fatalf("table %s: %+v (present %v)", table, ch, ok)
			}
		}
	})
	t.Run("an announcement and its inbox item arrive as updated, for the audience only", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		cursor := f.firstPull(t)
		var ann opsAnnouncement
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": "Depot closed", "body": "The depot is closed **today**.",
			"audience": map[string]any{"departments": []string{"Field Ops"}}, "importance": "important",
		}), 201).json(t, &ann)
		ts.pushDone("announcement:" + ann.ID + ":publish")
		got := ts.syncPull(f.alice.token, cursor)
		if a := got.Changes["announcements"]; len(a.Updated) != 1 || a.Updated[0]["id"] != ann.ID ||
			a.Updated[0]["requires_ack"] != true || a.Updated[0]["title"] != "Depot closed" {
			t.Fatalf("announcements %+v", a)
		}
		if in := got.Changes["inbox"]; len(in.Updated) != 1 || in.Updated[0]["read_at"] != nil ||
			in.Updated[0]["title"] != "Depot closed" {
			t.Fatalf("inbox %+v", in)
		}
		if got.Timestamp <= cursor {
			t.Fatalf("timestamp %d did not move past %d", got.Timestamp, cursor)
		}
		other := ts.syncPull(f.carol.token, 0)
		if n := len(other.Changes["announcements"].Updated) + len(other.Changes["inbox"].Updated); n != 0 {
			t.Fatalf("carol sees %d records: %+v", n, other.Changes)
		}
		if again := ts.syncPull(f.alice.token, got.Timestamp); len(again.Changes["announcements"].Updated)+len(again.Changes["inbox"].Updated) != 0 {
			t.Fatalf("an incremental pull without changes sent %+v", again.Changes)
		}
	})
	t.Run("an app of schema 1 is not sent announcements, which schema 2 added", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		f.depotClosed(t)
		var got syncPull
		ts.must(ts.call("GET", "/v1/sync/pull?schema_version=1&migration=null&last_pulled_at=0", f.alice.token, nil), 200).json(t, &got)
		got.check(t)
		if _, ok := got.Changes["announcements"]; ok || len(got.Changes["inbox"].Updated) != 1 {
			t.Fatalf("schema 1 pulled %+v", got.Changes)
		}
	})
	t.Run("a migration that created the announcements table sends it whole", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		annID, cursor := f.depotClosed(t)
		migration := url.QueryEscape(`{"from":1,"tables":["announcements"],"columns":[]}`)
		var got syncPull
		ts.must(ts.call("GET", "/v1/sync/pull?schema_version=2&migration="+migration+"&last_pulled_at="+
			strconv.FormatInt(cursor, 10), f.alice.token, nil), 200).json(t, &got)
		got.check(t)
		if a := got.Changes["announcements"]; len(a.Updated) != 1 || a.Updated[0]["id"] != annID {
			t.Fatalf("announcements %+v", a)
		}
		if in := got.Changes["inbox"]; len(in.Updated) != 0 {
			t.Fatalf("a table the migration did not name came again: %+v", in)
		}
		r := ts.must(ts.call("GET", "/v1/sync/pull?migration=%7Btables%7D&last_pulled_at="+strconv.FormatInt(cursor, 10),
			f.alice.token, nil), 400)
		if r.problemCode() != "invalid" {
			t.Fatalf("a malformed migration: %s", r.body)
		}
	})
	t.Run("pushing an inbox item with read_at marks it read, once however often it is pushed", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		_, cursor := f.depotClosed(t)
		pulled := ts.syncPull(f.alice.token, 0).Changes["inbox"].Updated
		if len(pulled) != 1 {
			t.Fatalf("inbox %+v", pulled)
		}
		itemID := pulled[0]["id"].(string)
		change := map[string]any{"inbox": map[string]any{"created": []any{}, "deleted": []any{},
			"updated": []any{map[string]any{"id": itemID, "read_at": 1767225600000}}}}
		for range 2 {
			if res := ts.syncPush(f.alice.token, cursor, change); res.Accepted != 1 || len(res.Rejected) != 0 {
				t.Fatalf("push %+v", res)
			}
		}
		got := ts.syncPull(f.alice.token, cursor)
		if up := got.Changes["inbox"].Updated; len(up) != 1 || up[0]["read_at"] == nil {
			t.Fatalf("inbox after the push %+v", got.Changes["inbox"])
		}
		var count struct{ Unread int }
		ts.must(ts.call("GET", "/v1/inbox/unread-count", f.alice.token, nil), 200).json(t, &count)
		if count.Unread != 0 {
			t.Fatalf("REST still counts %d unread", count.Unread)
		}
	})
	t.Run("a record the server refuses is reported, kept and dismissable by its author only", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		annID, cursor := f.depotClosed(t)
		change := map[string]any{"announcements": map[string]any{
			"updated": []any{map[string]any{"id": annID, "title": "Hacked"}}}}
		res := ts.syncPush(f.alice.token, cursor, change)
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != "forbidden" || res.Rejected[0].ID != annID {
			t.Fatalf("push %+v", res)
		}
		ts.syncPush(f.alice.token, cursor, change) // a replay stores nothing new
		var list struct {
			Items []struct {
				ID, Table, Code string
				RecordID        string         `json:"record_id"`
				Record          map[string]any `json:"record"`
			}
		}
		ts.must(ts.call("GET", "/v1/sync/rejects", f.alice.token, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != res.Rejected[0].RejectID || list.Items[0].Record["title"] != "Hacked" {
			t.Fatalf("rejects %+v", list)
		}
		ts.must(ts.call("DELETE", "/v1/sync/rejects/"+list.Items[0].ID, f.carol.token, nil), 404)
		ts.must(ts.call("DELETE", "/v1/sync/rejects/"+list.Items[0].ID, f.alice.token, nil), 204)
		ts.must(ts.call("DELETE", "/v1/sync/rejects/"+list.Items[0].ID, f.alice.token, nil), 404)
		ts.must(ts.call("GET", "/v1/sync/rejects", f.alice.token, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("rejects after dismissal %+v", list)
		}
	})
	t.Run("a malformed push is a 400 naming the offending record and applies nothing", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		cursor := f.firstPull(t)
		ts.deliver(announcement("sync-e2e-2", push.Audience{UserIDs: []string{f.alice.id}}))
		cases := []struct{ body, field string }{
			{`{"changes":{"inbox":{"updated":[{"id":"sync-e2e-2","read_at":1}]},"announcements":{"created":[{"title":"no id"}]}}}`,
				"changes.announcements.created[0].id"},
			{`{"changes":{"inbox":{"updated":[{"id":"sync-e2e-2","read_at":1}]},"nope":{}}}`, "changes.nope"},
			{`{"changes":{"inbox":{"deleted":[7]}}}`, "changes.inbox.deleted[0]"},
			{`{"changes":[]}`, "changes"},
			{`not json`, ""},
		}
		for _, c := range cases {
			r := ts.must(ts.call("POST", "/v1/sync/push?last_pulled_at="+strconv.FormatInt(cursor, 10), f.alice.token, c.body, offContract), 400)
			var p struct{ Code, Field string }
			r.json(t, &p)
			if p.Code != "invalid" || p.Field != c.field {
				t.Errorf("%s: problem %s", c.body, r.body)
			}
		}
		var count struct{ Unread int }
		ts.must(ts.call("GET", "/v1/inbox/unread-count", f.alice.token, nil), 200).json(t, &count)
		if count.Unread != 1 {
			t.Fatalf("a rejected push changed the inbox: %d unread, want 1", count.Unread)
		}
		ts.must(ts.call("GET", "/v1/sync/pull?last_pulled_at=yesterday", f.alice.token, nil, offContract), 400)
		big := `{"changes":{"inbox":{"updated":[{"id":"x","read_at":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}]}}}`
		if r := ts.must(ts.call("POST", "/v1/sync/push", f.alice.token, big), 413); r.problemCode() != "too_large" {
			t.Fatalf("an oversized push: %s", r.body)
		}
		ts.must(ts.call("POST", "/v1/sync/push", f.alice.token, `{"changes":{}}`, withContentType("text/plain"), offContract), 415)
	})
	t.Run("an edited announcement arrives as updated", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		annID, cursor := f.depotClosed(t)
		ts.must(ts.call("PATCH", "/v1/ops/announcements/"+annID, f.ops, map[string]any{"title": "Depot reopens"}), 200)
		got := ts.syncPull(f.alice.token, cursor)
		if up := got.Changes["announcements"].Updated; len(up) != 1 || up[0]["title"] != "Depot reopens" {
			t.Fatalf("announcements %+v", got.Changes["announcements"])
		}
		if other := ts.syncPull(f.carol.token, cursor); len(other.Changes["announcements"].Updated) != 0 {
			t.Fatalf("carol got %+v", other.Changes["announcements"])
		}
	})
	t.Run("a withdrawn announcement arrives as deleted", func(t *testing.T) {
		f := newSyncFixture(t)
		ts := f.ts.with(t)
		annID, cursor := f.depotClosed(t)
		ts.deliver(announcement("sync-e2e-2", push.Audience{UserIDs: []string{f.alice.id}}))
		ts.must(ts.call("POST", "/v1/ops/announcements/"+annID+"/withdraw", f.ops, nil), 200)
		got := ts.syncPull(f.alice.token, cursor)
		if del := got.Changes["announcements"].Deleted; len(del) != 1 || del[0] != annID {
			t.Fatalf("announcements %+v", got.Changes["announcements"])
		}
		if in := ids(got.Changes["inbox"].Updated); len(in) != 1 || in[0] != "sync-e2e-2" {
			t.Fatalf("inbox %+v", got.Changes["inbox"])
		}
	})
}
