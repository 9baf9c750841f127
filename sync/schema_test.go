package datasync

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// fixedTable is a table of fixed records (sent on a first sync or a migration) that nobody may
// change: a pushed delete of one of its ids is someone else's record (not_found), any other
// deleted or updated id is Gone.
type fixedTable struct {
	name string
	ids  []string
}

func (t fixedTable) Name() string { return t.name }

func (t fixedTable) Pull(_ context.Context, q Query, out *TableWriter) error {
	if q.Since > 0 {
		return nil
	}
	for _, id := range t.ids {
		if err := out.Live(id, map[string]string{"id": id}); err != nil {
			return err
		}
	}
	return nil
}

func (t fixedTable) Push(_ context.Context, _ *auth.Principal, _ int64, ch Changes) (Applied, error) {
	var a Applied
	judge := func(id string, raw json.RawMessage) {
		err := Gone("record")
		if slices.Contains(t.ids, id) {
			err = apperr.New(apperr.NotFound, "record not found")
		}
		a.Rejected = append(a.Rejected, RejectionFrom(id, raw, err))
	}
	for _, raw := range ch.Updated {
		var r struct{ ID string }
		_ = json.Unmarshal(raw, &r)
		judge(r.ID, raw)
	}
	for _, id := range ch.Deleted {
		judge(id, nil)
	}
	return a, nil
}

// addedTable is a fixedTable that the app schema gained in version v.
type addedTable struct {
	fixedTable
	v int
}

func (t addedTable) SchemaVersion() int { return t.v }

func fixedEngine(t *testing.T) *Engine {
	t.Helper()
	e := &Engine{DB: testenv.Mongo(t)}
	e.Register(fixedTable{"first", []string{"f1"}})
	e.Register(addedTable{fixedTable{"second", []string{"s1"}}, 2})
	e.Register(addedTable{fixedTable{"third", []string{"t1"}}, 3})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// pullTables pulls as an app of the given schema version (0: none sent) and returns the
// records' ids by table.
func pullTables(t *testing.T, e *Engine, since int64, schema int, m *Migration) map[string][]string {
	t.Helper()
	s, err := e.OpenPull(context.Background(), employee("alice"), since)
	if err != nil {
		t.Fatal(err)
	}
	s.ForSchema(schema)
	s.Migrate(m)
	var buf bytes.Buffer
	if err := s.WriteTo(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var r pullResponse
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	out := map[string][]string{}
	for name, tab := range r.Changes {
		out[name] = []string{}
		for _, rec := range tab.Updated {
			out[name] = append(out[name], rec["id"].(string))
		}
	}
	return out
}

func TestPullSendsTheTablesOfTheAppsSchema(t *testing.T) {
	e := fixedEngine(t)
	if got, want := e.SchemaVersions(), map[string]int{"first": 1, "second": 2, "third": 3}; !maps.Equal(got, want) {
		t.Fatalf("SchemaVersions %v, want %v", got, want)
	}
	for _, c := range []struct {
		name   string
		schema int
		want   map[string][]string
	}{
		{"an app that sends no schema version gets every table", 0,
			map[string][]string{"first": {"f1"}, "second": {"s1"}, "third": {"t1"}}},
		{"schema 1 gets only the tables of schema 1", 1, map[string][]string{"first": {"f1"}}},
		{"schema 2 gets the tables introduced at 1 and 2", 2, map[string][]string{"first": {"f1"}, "second": {"s1"}}},
		{"a schema newer than every table gets every table", 7,
			map[string][]string{"first": {"f1"}, "second": {"s1"}, "third": {"t1"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pullTables(t, e, 0, c.schema, nil); !maps.EqualFunc(got, c.want, slices.Equal) {
				t.Fatalf("pulled %v, want %v", got, c.want)
			}
		})
	}
	t.Run("a migration to schema 2 brings the table it added whole, and not the next one", func(t *testing.T) {
		got := pullTables(t, e, 1, 2, &Migration{From: 1, Tables: []string{"second"}})
		if want := map[string][]string{"first": {}, "second": {"s1"}}; !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("pulled %v, want %v", got, want)
		}
	})
	t.Run("a migration naming a table the schema does not have sends nothing of it", func(t *testing.T) {
		got := pullTables(t, e, 1, 1, &Migration{From: 1, Tables: []string{"third"}})
		if want := map[string][]string{"first": {}}; !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("pulled %v, want %v", got, want)
		}
	})
}

// TestPushedDeleteOfAGoneRecordIsAccepted: a delete a table answers with Gone (the id never
// existed, or is deleted already) is counted accepted and stored nowhere; any other rejection,
// and a Gone update, stays rejected.
func TestPushedDeleteOfAGoneRecordIsAccepted(t *testing.T) {
	e := fixedEngine(t)
	ctx := context.Background()
	alice := employee("alice")
	body := []byte(`{"changes":{"first":{"created":[],"updated":[{"id":"u1"}],"deleted":["never","f1"]},
		"second":{"deleted":["gone1","gone2"]}}}`)
	for range 2 {
		res, err := e.Push(ctx, alice, 0, body)
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]apperr.Code{}
		for _, r := range res.Rejected {
			codes[r.Table+"/"+r.ID] = r.Code
		}
		if want := map[string]apperr.Code{"first/u1": apperr.NotFound, "first/f1": apperr.NotFound}; res.Accepted != 3 || !maps.Equal(codes, want) {
			t.Fatalf("push %+v, want 3 accepted and rejected %v", res, want)
		}
	}
	stored, err := e.Rejects(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range stored {
		ids = append(ids, r.RecordID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"f1", "u1"}) {
		t.Fatalf("stored rejects %+v, want f1 and u1 only", stored)
	}
}
