package datasync

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
)

// countingTable counts how often the engine reads a table.
type countingTable struct {
	Table
	pulls atomic.Int64
}

func (c *countingTable) Pull(ctx context.Context, q Query, out *TableWriter) error {
	c.pulls.Add(1)
	return c.Table.Pull(ctx, q, out)
}

func note(id, author, channel, text string) Record {
	return Record{ID: id, Keys: noteKeys(author, channel), Set: bson.D{{Key: "text", Value: text}},
		SetOnInsert: bson.D{{Key: "author_id", Value: author}}}
}

func TestPullSendsOnlyWhatTheUserMaySee(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	for _, r := range []Record{note("a1", "alice", "", "mine"), note("b1", "bob", "", "bob's"), note("b2", "bob", "beta", "shared")} {
		if err := notes.write(ctx, e, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	opsUser := &auth.Principal{UserID: "olga", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}}
	for _, c := range []struct {
		name string
		p    *auth.Principal
		want []string
	}{
		{"an author sees their own notes only", employee("alice"), []string{"a1"}},
		{"ops see every note", opsUser, []string{"a1", "b1", "b2"}},
		{"someone else sees nothing", employee("mallory"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := pull(t, e, c.p, 0)
			got := ids(r.Changes["notes"].Updated)
			slices.Sort(got)
			if !slices.Equal(got, c.want) || len(r.Changes["notes"].Deleted) != 0 {
				t.Fatalf("first sync %+v, want updated %v", r.Changes["notes"], c.want)
			}
		})
	}
}

func ids(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["id"].(string))
	}
	return out
}

func TestIncrementalPull(t *testing.T) {
	e, notes := newEngine(t, nil)
	counted := &countingTable{Table: notes}
	e.tables[0], e.byName["notes"] = counted, counted
	ctx := context.Background()
	alice := employee("alice")
	if err := notes.write(ctx, e, note("a1", "alice", "", "v1"), nil); err != nil {
		t.Fatal(err)
	}
	dev := newDevice()
	dev.sync(t, e, alice)

	t.Run("reads no table when nothing the user sees changed", func(t *testing.T) {
		if err := notes.write(ctx, e, note("b1", "bob", "", "not for alice"), nil); err != nil {
			t.Fatal(err)
		}
		before := counted.pulls.Load()
		r := dev.sync(t, e, alice)
		if n := counted.pulls.Load() - before; n != 0 {
			t.Fatalf("the pull read the table %d times", n)
		}
		if c := r.Changes["notes"]; c.Created == nil || c.Updated == nil || c.Deleted == nil {
			t.Fatalf("a skipped table must still be listed with empty arrays: %+v", r.Changes)
		}
	})
	t.Run("sends an edit and a new note both as updated", func(t *testing.T) {
		if err := notes.write(ctx, e, note("a1", "alice", "", "v2"), nil); err != nil {
			t.Fatal(err)
		}
		if err := notes.write(ctx, e, note("a2", "alice", "", "new"), nil); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, e, alice)
		got := ids(r.Changes["notes"].Updated)
		slices.Sort(got)
		if !slices.Equal(got, []string{"a1", "a2"}) {
			t.Fatalf("changes %+v", r.Changes["notes"])
		}
	})
	t.Run("sends a deletion to the author and keeps the cursor moving", func(t *testing.T) {
		before := dev.cursor
		if err := notes.write(ctx, e, Record{ID: "a2", Delete: true}, nil); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, e, alice)
		if c := r.Changes["notes"]; !slices.Equal(c.Deleted, []string{"a2"}) || len(c.Updated) != 0 {
			t.Fatalf("changes %+v", c)
		}
		if r.Timestamp <= before {
			t.Fatalf("timestamp %d did not move past %d", r.Timestamp, before)
		}
		if got := dev.texts(); len(got) != 1 || got["a1"] != "v2" {
			t.Fatalf("device %v", got)
		}
	})
	t.Run("sends a table the app just created whole", func(t *testing.T) {
		// A device that upgraded its schema and created the notes table (WatermelonDB's migration
		// sync) has none of the notes that changed before its cursor.
		stream, err := e.OpenPull(ctx, alice, dev.cursor)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMigration(`{"from":3,"tables":["notes","local_drafts"],"columns":[]}`)
		if err != nil {
			t.Fatal(err)
		}
		stream.Migrate(m)
		var buf bytes.Buffer
		if err := stream.WriteTo(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		var r pullResponse
		if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if c := r.Changes["notes"]; len(c.Created) != 0 || !slices.Equal(ids(c.Updated), []string{"a1"}) || len(c.Deleted) != 0 {
			t.Fatalf("a migrated table must come as a first sync: %+v", c)
		}
		if r.Timestamp != dev.cursor || r.FullResync {
			t.Fatalf("a migration moves nothing else: timestamp %d (cursor %d), full_resync %v", r.Timestamp, dev.cursor, r.FullResync)
		}
	})
	t.Run("refuses a negative cursor", func(t *testing.T) {
		if err := e.Pull(ctx, alice, -1, new(nopWriter)); err == nil {
			t.Fatal("a negative cursor was accepted")
		}
	})
	t.Run("answers a cursor from the future with a full resync", func(t *testing.T) {
		r := pull(t, e, alice, dev.cursor+1000)
		if !r.FullResync || len(r.Changes["notes"].Updated) != 1 {
			t.Fatalf("pull %+v", r)
		}
	})
}

type nopWriter struct{}

func (*nopWriter) Write(p []byte) (int, error) { return len(p), nil }
