package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // FerretDB's SQLite driver, registered as "sqlite"; linked by FerretDB anyway
)

// idExpr is the SQL expression FerretDB v1.24's SQLite backend filters on whenever it pushes a
// query down ({_id: x} alone, in find, update and delete) and in every UpdateAll and DeleteAll:
// metadata.IDColumn, `_ferretdb_sjson->'$._id'`. FerretDB's own unique index is built on
// `_ferretdb_sjson->"_id"`, an expression SQLite's planner does not consider the same, so every
// one of those statements scans the table and parses each row's JSON.
const idExpr = `_ferretdb_sjson->'$._id'`

// idIndexSuffix names the index this package adds next to FerretDB's "<table>__id_".
const idIndexSuffix = "_mportal_uid"

// oldIDIndexSuffix named the index before it was unique; EnsureIDIndexes drops it.
const oldIDIndexSuffix = "_mportal_id"

// EnsureIDIndexes adds, to every collection of database that lacks it, an SQLite index on the
// exact expression FerretDB's _id lookups, updates and deletes use, so that they find their row
// through the index instead of scanning the table: measured at 5,000 documents, a findOne by _id
// went from 26 ms to 0.9 ms and an updateOne by _id from 137 ms to 5 ms (see
// internal/feedback/README.md, "Performance"). It is idempotent and cheap when nothing is
// missing; run it after the collections are created (collections created later get their index
// the next time it runs).
//
// FerretDB does not know the index: it is not listed by listIndexes, goes away with its table
// when the collection is dropped, and cannot change a result, only the plan. It is UNIQUE, as
// FerretDB's own index on the same value already is (so no write can fail on it that would not
// fail on FerretDB's): an equality on a unique index tells SQLite's planner that FerretDB's
// `UPDATE ... WHERE <idExpr> = ?` changes one row at most, so it updates in one pass without a
// statement journal. With a plain index, every update of a document opened one (its updates
// may fail on FerretDB's unique index mid-way), which in modernc's SQLite is a fresh 64 KiB
// mmap and munmap per update: about a tenth of the CPU of pushed edits and deletes. The plain
// index of earlier versions ("<table>_mportal_id") is dropped. dir is the directory Start was
// given.
func EnsureIDIndexes(ctx context.Context, dir, database string) error {
	abs, err := filepath.Abs(filepath.Join(dir, database+".sqlite"))
	if err != nil {
		return fmt.Errorf("embedded db %s: %w", database, err)
	}
	if _, err := os.Stat(abs); err != nil {
		if os.IsNotExist(err) {
			return nil // no collection yet
		}
		return fmt.Errorf("embedded db %s: %w", database, err)
	}
	// busy_timeout as FerretDB sets it: the index is built while FerretDB may be writing.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("embedded db %s: %w", database, err)
	}
	defer db.Close()
	tables, err := missingIDIndexes(ctx, db)
	if err != nil {
		return fmt.Errorf("embedded db %s: %w", database, err)
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (%s)`, t+idIndexSuffix, t, idExpr)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("embedded db %s: index %s: %w", database, t, err)
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP INDEX IF EXISTS %q`, t+oldIDIndexSuffix)); err != nil {
			return fmt.Errorf("embedded db %s: drop the old index of %s: %w", database, t, err)
		}
	}
	return nil
}

// missingIDIndexes lists the collection tables of db that have no _id expression index yet.
func missingIDIndexes(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE EXISTS (SELECT 1 FROM sqlite_master t WHERE t.type = 'table' AND t.name = c.table_name)
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = c.table_name || ?)`, idIndexSuffix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}
