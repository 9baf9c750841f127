package embedded_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
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
	for range 2 {
		if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
			t.Fatal(err)
		}
	}
	if plan := idPlan(t, dir, "first"); !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("plan of an _id lookup: %s", plan)
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
