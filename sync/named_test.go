package datasync

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

func named(table string, seq int64, pairs ...string) changeDoc {
	t := touchDoc{Table: table}
	for i := 0; i < len(pairs); i += 2 {
		if !slices.Contains(t.Keys, pairs[i]) {
			t.Keys = append(t.Keys, pairs[i])
		}
		t.Records = append(t.Records, touchedRecordDoc{Key: pairs[i], ID: pairs[i+1]})
	}
	return changeDoc{ID: seq, Touches: []touchDoc{t}}
}

func unnamed(table string, seq int64, keys ...string) changeDoc {
	return changeDoc{ID: seq, Touches: []touchDoc{{Table: table, Keys: keys}}}
}

// TestIndexKnowsWhichRecordsChanged checks the index's named logs (Query.Exact): it answers
// exactly when every change of the user's keys after the cursor named its records, whatever
// the order in which changes reach it.
func TestIndexKnowsWhichRecordsChanged(t *testing.T) {
	check := func(t *testing.T, x *index, keys []string, since int64, want []string, wantExact bool) {
		t.Helper()
		got, exact := x.changed("inbox", keys, since, false)
		if exact != wantExact || !slices.Equal(got, want) {
			t.Fatalf("changed(%v, since %d) = %v, %v; want %v, %v", keys, since, got, exact, want, wantExact)
		}
	}
	t.Run("only changes after the last unnamed one", func(t *testing.T) {
		x := &index{}
		x.apply(unnamed("inbox", 5, "u:a"))
		x.apply(named("inbox", 10, "u:a", "a/1"))
		check(t, x, []string{"u:a"}, 3, nil, false) // seq 5 named nothing
		check(t, x, []string{"u:a"}, 5, []string{"a/1"}, true)
		x.apply(named("inbox", 11, "u:a", "a/2", "u:b", "b/2"))
		check(t, x, []string{"u:a"}, 5, []string{"a/1", "a/2"}, true)
		check(t, x, []string{"u:a"}, 10, []string{"a/2"}, true)
		check(t, x, []string{"u:b"}, 5, []string{"b/2"}, true) // b's first change named it
		x.apply(unnamed("inbox", 12, "u:a"))                   // a "mark all read"
		check(t, x, []string{"u:a"}, 11, nil, false)
		check(t, x, []string{"u:a"}, 12, nil, true) // nothing since
		check(t, x, []string{"u:b"}, 10, []string{"b/2"}, true)
	})
	t.Run("a key no write named is unknown", func(t *testing.T) {
		x := &index{}
		x.apply(named("inbox", 10, "u:a", "a/1"))
		x.apply(unnamed("inbox", 11, "u:c"))
		check(t, x, []string{"u:a", "u:c"}, 9, nil, false)
		check(t, x, []string{"u:a", "u:c"}, 11, nil, true)
		check(t, x, []string{"u:a"}, 9, []string{"a/1"}, true)
		x.apply(unnamed("feedback", 12, "u:a"))
		got, exact := x.changed("feedback", []string{"u:a"}, 11, false)
		if exact || got != nil {
			t.Fatalf("another table: %v %v", got, exact)
		}
	})
	t.Run("a touch naming some of its keys leaves the others unknown", func(t *testing.T) {
		x := &index{}
		x.apply(named("inbox", 10, "u:a", "a/1", "u:b", "b/1"))
		c := named("inbox", 11, "u:a", "a/2")
		c.Touches[0].Keys = append(c.Touches[0].Keys, "u:b")
		x.apply(c)
		check(t, x, []string{"u:a"}, 10, []string{"a/2"}, true)
		check(t, x, []string{"u:b"}, 10, nil, false)
	})
	t.Run("out of order", func(t *testing.T) {
		x := &index{}
		x.apply(named("inbox", 30, "u:a", "a/30"))
		x.apply(unnamed("inbox", 25, "u:a"))
		x.apply(named("inbox", 28, "u:a", "a/28"))
		check(t, x, []string{"u:a"}, 24, nil, false)
		check(t, x, []string{"u:a"}, 25, []string{"a/28", "a/30"}, true)
	})
	t.Run("bounded: a cursor further behind is unknown", func(t *testing.T) {
		x := &index{}
		for i := range maxNamed + 8 {
			x.apply(named("inbox", int64(100+i), "u:a", fmt.Sprintf("a/%03d", i)))
		}
		check(t, x, []string{"u:a"}, 99, nil, false)
		got, exact := x.changed("inbox", []string{"u:a"}, 107, false)
		if !exact || len(got) != maxNamed || got[0] != "a/008" {
			t.Fatalf("the newest %d: %v %v", maxNamed, got, exact)
		}
		x.apply(named("inbox", 200, "u:a", "a/005")) // changed again: one entry, the newest seq
		got, _ = x.changed("inbox", []string{"u:a"}, 150, false)
		if !slices.Equal(got, []string{"a/005"}) {
			t.Fatalf("a record changed twice: %v", got)
		}
	})
	t.Run("abandoned writes and the horizon", func(t *testing.T) {
		x := &index{}
		x.apply(named("inbox", 10, "u:a", "a/1"))
		x.apply(changeDoc{ID: 20, Abandoned: true})
		check(t, x, []string{"u:a"}, 9, nil, false)
		check(t, x, []string{"u:a"}, 20, nil, true)
		if got, exact := x.changed("inbox", []string{"u:a"}, 9, true); !exact || !slices.Equal(got, []string{"a/1"}) {
			t.Fatalf("a table that writes abandoned writes again: %v %v", got, exact)
		}
		x.horizon = 25
		check(t, x, []string{"u:a"}, 21, nil, false)
		x.prune(25)
		x.apply(named("inbox", 30, "u:a", "a/2"))
		check(t, x, []string{"u:a"}, 25, []string{"a/2"}, true)
	})
	t.Run("a group names records only if every member did", func(t *testing.T) {
		both := mergeChanges([]change{
			{touches: []Touch{{Table: "inbox", Keys: []string{"u:a"}, Records: []TouchedRecord{{"u:a", "a/1"}}}}},
			{touches: []Touch{{Table: "inbox", Keys: []string{"u:b"}, Records: []TouchedRecord{{"u:b", "b/1"}}}}},
		})
		if len(both.touches) != 1 || len(both.touches[0].Records) != 2 {
			t.Fatalf("merged: %+v", both)
		}
		mixed := mergeChanges([]change{
			{touches: []Touch{{Table: "inbox", Keys: []string{"u:a"}, Records: []TouchedRecord{{"u:a", "a/1"}}}}},
			{touches: []Touch{{Table: "inbox", Keys: []string{"u:a"}}}},
		})
		if len(mixed.touches) != 1 || mixed.touches[0].Records != nil {
			t.Fatalf("merged with an unnamed member: %+v", mixed)
		}
	})
}

// queryTable records the queries its pulls get; its writes name their records when asked.
type queryTable struct {
	queries []Query
}

func (*queryTable) Name() string { return "named" }

func (q *queryTable) Pull(_ context.Context, query Query, _ *TableWriter) error {
	q.queries = append(q.queries, query)
	return nil
}

func (*queryTable) Push(context.Context, *auth.Principal, int64, Changes) (Applied, error) {
	return Applied{}, nil
}

// rewriterTable is a queryTable that promises to write abandoned writes again.
type rewriterTable struct{ queryTable }

func (*rewriterTable) RewritesAbandonedWrites() {}

// TestPullTellsTablesWhichRecordsChanged checks that a pull hands a table Exact and Changed
// from the writes since the cursor, through the change log too (as another instance reads it),
// and falls back when a write named nothing.
func TestPullTellsTablesWhichRecordsChanged(t *testing.T) {
	ctx := context.Background()
	// Two instances on one database (Embedded false: see TestSecondInstanceCatchesUp), known to
	// be FerretDB, so the second one catches up by reading the change log.
	embedded := testenv.Mongo(t)
	db := &mongodb.DB{Client: embedded.Client, DB: embedded.DB, FerretDB: true}
	now := testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)).Now
	e, table := &Engine{DB: db, Now: now}, &queryTable{}
	e.Register(table)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u := employee("u1")
	write := func(ids ...string) {
		t.Helper()
		touch := Touch{Table: "named", Keys: []string{UserKey("u1")}}
		for _, id := range ids {
			touch.Records = append(touch.Records, TouchedRecord{Key: UserKey("u1"), ID: id})
		}
		if err := e.Write(ctx, func(context.Context, int64) ([]Touch, error) { return []Touch{touch}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	last := func() Query { return table.queries[len(table.queries)-1] }

	write("r1")
	cursor := pull(t, e, u, 0).Timestamp
	if q := last(); q.Exact {
		t.Fatalf("a first sync is never exact: %+v", q)
	}
	write("r2")
	write("r3", "r2")
	pull(t, e, u, cursor)
	if q := last(); !q.Exact || !slices.Equal(q.Changed, []string{"r2", "r3"}) {
		t.Fatalf("after two named writes: exact %v, changed %v", q.Exact, q.Changed)
	}

	// Another instance learns the same from the change log.
	other := &Engine{DB: e.DB, Now: e.Now}
	otherTable := &queryTable{}
	other.Register(otherTable)
	if err := other.Start(ctx); err != nil {
		t.Fatal(err)
	}
	otherCursor := pull(t, other, u, 0).Timestamp
	write("r4")
	write("r5")
	pull(t, other, u, otherCursor)
	if q := otherTable.queries[len(otherTable.queries)-1]; !q.Exact || !slices.Equal(q.Changed, []string{"r4", "r5"}) {
		t.Fatalf("from the change log: exact %v, changed %v", q.Exact, q.Changed)
	}

	// An abandoned number hides nothing from a table that writes abandoned writes again.
	cursor = pull(t, e, u, 0).Timestamp
	write("r6")
	snap, err := e.lowWater(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A number after the cursor, abandoned (as if a write under it had been reaped); far ahead,
	// so that no write of the test takes it.
	if err := e.logAbandoned(ctx, snap.low+1000); err != nil {
		t.Fatal(err)
	}
	pull(t, e, u, cursor)
	if q := last(); q.Exact {
		t.Fatalf("across an abandoned number: exact %v, changed %v", q.Exact, q.Changed)
	}
	rewriting := &rewriterTable{queryTable{}}
	again := &Engine{DB: db, Now: now}
	again.Register(rewriting)
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pull(t, again, u, cursor)
	if q := rewriting.queries[len(rewriting.queries)-1]; !q.Exact || !slices.Equal(q.Changed, []string{"r6"}) {
		t.Fatalf("a Rewriter across an abandoned number: exact %v, changed %v", q.Exact, q.Changed)
	}

	cursor = pull(t, e, u, 0).Timestamp
	write() // names no record: the table must query by cursor
	pull(t, e, u, cursor)
	if q := last(); q.Exact || q.Changed != nil {
		t.Fatalf("after an unnamed write: exact %v, changed %v", q.Exact, q.Changed)
	}
}
