package embedded_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

// TestEnsureIDIndexesServesIDLookups checks, in SQLite's own query plan, that the statement
// FerretDB runs for {_id: x} (and for every update and delete by _id) searches the added index
// instead of scanning the table, and that adding the index changes no answer, is idempotent,
// covers collections created later, and survives a restart.
func TestEnsureIDIndexesServesIDLookups(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := embedded.Start(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
		t.Fatalf("a database without collections: %v", err)
	}
	var docs []any
	for i := range 50 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("d%02d", i)}, {Key: "n", Value: i}})
	}
	if _, err := db.Collection("first").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if plan := idPlan(t, dir, "first"); !strings.Contains(plan, "SCAN") {
		t.Fatalf("without the index FerretDB's _id lookup should scan; plan: %s", plan)
	}
	// The plain index of earlier versions, which made every update open a statement journal.
	sqliteExec(t, dir, fmt.Sprintf(`CREATE INDEX %q ON %q (_ferretdb_sjson->'$._id')`,
		collTable(t, dir, "first")+"_mportal_id", collTable(t, dir, "first")))
	for range 2 {
		if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
			t.Fatal(err)
		}
	}
	if plan := idPlan(t, dir, "first"); !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("plan of an _id lookup: %s", plan)
	}
	// Unique, so that SQLite updates the one row in one pass, without a statement journal; the
	// old plain index is gone.
	if got, want := indexes(t, dir, "first"), []string{"__id_ unique", "_mportal_uid unique"}; !slices.Equal(got, want) {
		t.Fatalf("indexes of the first collection: %v, want %v", got, want)
	}
	if _, err := db.Collection("later").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
		t.Fatal(err)
	}
	if plan := idPlan(t, dir, "later"); !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("plan of an _id lookup in a collection created later: %s", plan)
	}
	c := db.Collection("first")
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: "d07"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 700}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: "d08"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "d09"}}); !mongodb.IsDuplicateKey(err) {
		t.Fatalf("a duplicate _id: %v", err)
	}
	_ = db.Close(ctx)
	srv.Stop()

	srv, err = embedded.Start(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	db, err = mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	c = db.Collection("first")
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "d07"}}).Decode(&got); err != nil || got.N != 700 {
		t.Fatalf("updated document after a restart: %+v, %v", got, err)
	}
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "d08"}}).Err(); !mongodb.IsNotFound(err) {
		t.Fatalf("deleted document after a restart: %v", err)
	}
	if n, err := c.CountDocuments(ctx, bson.D{}); err != nil || n != 49 {
		t.Fatalf("%d documents, %v", n, err)
	}
	if plan := idPlan(t, dir, "first"); !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("plan after a restart: %s", plan)
	}
}

// idPlan is SQLite's plan for the statement FerretDB v1.24 runs for find({_id: x}) on coll.
func idPlan(t *testing.T, dir, coll string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mportal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table), `"d01"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// collTable is the SQLite table of collection coll.
func collTable(t *testing.T, dir, coll string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mportal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatal(err)
	}
	return table
}

func sqliteExec(t *testing.T, dir, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mportal.sqlite")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

// indexes lists the indexes of coll's table, as the part of their name after the table's and
// "unique" or "plain", sorted.
func indexes(t *testing.T, dir, coll string) []string {
	t.Helper()
	table := collTable(t, dir, coll)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "mportal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, "unique" FROM pragma_index_list(?)`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var unique bool
		if err := rows.Scan(&name, &unique); err != nil {
			t.Fatal(err)
		}
		kind := "plain"
		if unique {
			kind = "unique"
		}
		out = append(out, strings.TrimPrefix(name, table)+" "+kind)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
