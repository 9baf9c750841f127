package datasync

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// TestStreamByIDSendsWhatTheCursorQuerySends checks that reading the changed records by id
// sends exactly what the cursor query sends, with the same kinds, for every shape of record
// (changed or not, visible, deleted, moved out of the user's audience, never seen), and that a
// named id that no longer exists is skipped.
func TestStreamByIDSendsWhatTheCursorQuerySends(t *testing.T) {
	ctx := context.Background()
	coll := testenv.Mongo(t).Collection("streambyid")
	type doc struct {
		ID   string `bson:"_id"`
		Meta `bson:",inline"`
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	docs := []doc{
		{"live-new", Meta{Seq: 12, CreatedSeq: 12, Keys: []string{"u:a"}, UpdatedAt: at}},
		{"live-old", Meta{Seq: 5, CreatedSeq: 5, Keys: []string{"u:a"}, UpdatedAt: at}},
		{"edited", Meta{Seq: 14, CreatedSeq: 3, Keys: []string{"u:a", "ch:beta"}, UpdatedAt: at}},
		{"deleted", Meta{Seq: 13, CreatedSeq: 4, Keys: []string{"u:a"}, Deleted: true, UpdatedAt: at}},
		{"deleted-old", Meta{Seq: 6, CreatedSeq: 4, Keys: []string{"u:a"}, Deleted: true, UpdatedAt: at}},
		{"moved-out", Meta{Seq: 15, CreatedSeq: 2, Keys: []string{"u:b"}, FormerKeys: []string{"ch:beta"}, UpdatedAt: at}},
		{"others", Meta{Seq: 16, CreatedSeq: 16, Keys: []string{"u:b"}, UpdatedAt: at}},
	}
	for _, d := range docs {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(stream func(emit func(*doc, *Meta, Kind) error) error) []string {
		t.Helper()
		var got []string
		if err := stream(func(d *doc, _ *Meta, k Kind) error {
			got = append(got, fmt.Sprintf("%s:%d", d.ID, k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	q := Query{User: &auth.Principal{UserID: "a"}, Keys: []string{"u:a", "ch:beta"}, Since: 10, Upto: 20}
	want := collect(func(emit func(*doc, *Meta, Kind) error) error { return StreamChanges(ctx, coll, q, nil, emit) })
	if len(want) != 4 { // live-new, edited, deleted, moved-out
		t.Fatalf("the cursor query sent %v", want)
	}
	byID := q
	byID.Exact = true
	for _, d := range docs { // a superset: Classify filters what was not changed for q's user
		byID.Changed = append(byID.Changed, d.ID)
	}
	byID.Changed = append(byID.Changed, "purged")
	slices.Sort(byID.Changed)
	if !byID.ReadsByID(64) {
		t.Fatal("ReadsByID refused an exact query")
	}
	got := collect(func(emit func(*doc, *Meta, Kind) error) error { return StreamByID(ctx, coll, byID, emit) })
	if !slices.Equal(got, want) {
		t.Errorf("by id %v, by cursor %v", got, want)
	}
}

// TestReadsByID checks when a pull may read by id: only an exact, incremental query with no key
// gained or lost and few enough changes.
func TestReadsByID(t *testing.T) {
	exact := Query{Since: 10, Exact: true, Changed: []string{"a", "b"}}
	for _, c := range []struct {
		name string
		q    func(Query) Query
		want bool
	}{
		{"exact", func(q Query) Query { return q }, true},
		{"not exact", func(q Query) Query { q.Exact = false; return q }, false},
		{"a first sync", func(q Query) Query { q.Since = 0; return q }, false},
		{"a key gained", func(q Query) Query { q.Gained = []string{"ch:beta"}; return q }, false},
		{"a key lost", func(q Query) Query { q.Lost = []string{"ch:beta"}; return q }, false},
		{"too many changes", func(q Query) Query { q.Changed = []string{"a", "b", "c"}; return q }, false},
	} {
		if got := c.q(exact).ReadsByID(2); got != c.want {
			t.Errorf("%s: ReadsByID %v, want %v", c.name, got, c.want)
		}
	}
}
