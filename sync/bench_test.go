package datasync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
)

const benchRecords = 10_000

// seedNotes writes n feedback-sized notes by author in one sync write, in batches of 1,000.
func seedNotes(b *testing.B, e *Engine, n *notesTable, author string, count int) {
	b.Helper()
	ctx := context.Background()
	err := e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		batch := make([]any, 0, 1000)
		for i := range count {
			batch = append(batch, noteDoc{ID: fmt.Sprintf("%s-%05d", author, i), AuthorID: author,
				Text:     "The scanner in bay 4 drops the connection every few minutes since the last update.",
				Category: "bug", AppID: "com.example.portal", Build: 230, Lat: 31.2304, Lng: 121.4737,
				Meta: Meta{Seq: seq, CreatedSeq: seq, Keys: noteKeys(author, ""), UpdatedAt: time.Now()}})
			if len(batch) == cap(batch) || i == count-1 {
				if _, err := n.db.Collection("notes").InsertMany(ctx, batch); err != nil {
					return nil, err
				}
				batch = batch[:0]
			}
		}
		return []Touch{{Table: "notes", Keys: noteKeys(author, "")}}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFirstSync is a first sync of 10,000 feedback-sized records for one user (target: at
// most 1 s). "ferretdb" reads them from the embedded database, whose decoding of every document
// dominates; "memory" serves them from a table held in memory (as the feedback table does on the
// embedded database), which leaves the engine's own cost: the sequence read, classification and
// streaming JSON.
func BenchmarkFirstSync(b *testing.B) {
	e, notes := newEngine(b, nil)
	seedNotes(b, e, notes, "alice", benchRecords)
	mem := &memTable{name: "memnotes"}
	for i := range benchRecords {
		mem.docs = append(mem.docs, noteDoc{ID: fmt.Sprintf("m-%05d", i), AuthorID: "alice",
			Text:     "The scanner in bay 4 drops the connection every few minutes since the last update.",
			Category: "bug", AppID: "com.example.portal", Build: 230, Lat: 31.2304, Lng: 121.4737,
			Meta: Meta{Seq: 1, CreatedSeq: 1, Keys: noteKeys("alice", "")}})
	}
	e.Register(mem)
	alice := employee("alice")
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		table Table
	}{{"ferretdb", notes}, {"memory", mem}} {
		b.Run(c.name, func(b *testing.B) {
			// Only the measured table is registered for the run.
			e.tables = []Table{c.table}
			var size int
			for b.Loop() {
				var buf countingWriter
				if err := e.Pull(ctx, alice, 0, &buf); err != nil {
					b.Fatal(err)
				}
				size = buf.n
			}
			b.ReportMetric(float64(size)/1e6, "MB/pull")
			b.ReportMetric(float64(benchRecords)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// memTable is a read-only table held in memory.
type memTable struct {
	name string
	docs []noteDoc
}

func (m *memTable) Name() string { return m.name }

func (m *memTable) Pull(_ context.Context, q Query, out *TableWriter) error {
	for i := range m.docs {
		d := &m.docs[i]
		kind, ok := Classify(q, &d.Meta)
		if !ok {
			continue
		}
		if err := out.Emit(d.ID, noteRecord{ID: d.ID, AuthorID: d.AuthorID, Text: d.Text, Category: d.Category,
			AppID: d.AppID, Build: d.Build, Lat: d.Lat, Lng: d.Lng}, kind); err != nil {
			return err
		}
	}
	return nil
}

func (m *memTable) Push(context.Context, *auth.Principal, int64, Changes) (Applied, error) {
	return Applied{}, nil
}

// BenchmarkEmptyIncrementalPull is a pull with nothing new for the user while 10,000 records of
// theirs and 10,000 of someone else's exist (target: p99 at most 10 ms).
func BenchmarkEmptyIncrementalPull(b *testing.B) {
	e, notes := newEngine(b, nil)
	seedNotes(b, e, notes, "alice", benchRecords)
	seedNotes(b, e, notes, "bob", benchRecords)
	alice := employee("alice")
	ctx := context.Background()
	var first bytes.Buffer
	if err := e.Pull(ctx, alice, 0, &first); err != nil {
		b.Fatal(err)
	}
	since := pullTimestamp(b, first.Bytes())
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := e.Pull(ctx, alice, since, io.Discard); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkPush500 pushes 500 new feedback-sized records in one push into a table that holds
// 10,000 already (target: at least 1,000 records/s).
func BenchmarkPush500(b *testing.B) {
	e, notes := newEngine(b, nil)
	seedNotes(b, e, notes, "bob", benchRecords)
	alice := employee("alice")
	ctx := context.Background()
	round := 0
	for b.Loop() {
		b.StopTimer()
		var body bytes.Buffer
		body.WriteString(`{"changes":{"notes":{"created":[`)
		for i := range 500 {
			if i > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"id":"p%d-%03d","text":"Scanner drops the connection in bay %d","category":"bug",`+
				`"app_id":"com.example.portal","build":230,"lat":31.2304,"lng":121.4737,"_status":"created","_changed":""}`, round, i, i)
		}
		body.WriteString(`],"updated":[],"deleted":[]}}}`)
		round++
		b.StartTimer()
		res, err := e.Push(ctx, alice, 0, body.Bytes())
		if err != nil || res.Accepted != 500 {
			b.Fatalf("push: %+v, %v", res, err)
		}
	}
	b.ReportMetric(500*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func pullTimestamp(b *testing.B, body []byte) int64 {
	var r pullResponse
	if err := json.Unmarshal(body, &r); err != nil {
		b.Fatal(err)
	}
	return r.Timestamp
}
