package feedback

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

// pushNew pushes n new feedback records of alice in batches of 500, ids prefixed with prefix.
func pushNew(tb testing.TB, f *fixture, prefix string, n int) {
	for start := 0; start < n; start += 500 {
		batch := make([]any, 0, 500)
		for i := start; i < min(start+500, n); i++ {
			batch = append(batch, newRecord(fmt.Sprintf("%s%06d", prefix, i), "Bench report: the app freezes on the order screen"))
		}
		if res := f.push(alice, map[string]changes{"feedback": {Created: batch}}); res.Accepted != len(batch) {
			tb.Fatalf("push: %d accepted, %d rejected", res.Accepted, len(res.Rejected))
		}
	}
}

// BenchmarkPushFeedback500 is one push of 500 new feedback records (one unordered InsertMany
// inside one engine write) on the embedded database; the target is ≥ 1,000 records/s.
func BenchmarkPushFeedback500(b *testing.B) {
	f := newFixture(b, nil)
	i := 0
	start := time.Now()
	for b.Loop() {
		pushNew(b, f, fmt.Sprintf("b%03d-", i), 500)
		i++
	}
	b.ReportMetric(float64(500*i)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkFirstSyncFeedback10k is a first sync (last_pulled_at 0) of 10,000 feedback records
// of one user, streamed to io.Discard; the target is ≤ 1 s server time.
func BenchmarkFirstSyncFeedback10k(b *testing.B) {
	f := newFixture(b, nil)
	pushNew(b, f, "fs-", 10_000)
	if got := len(f.pull(alice, 0).Changes["feedback"].Updated); got != 10_000 {
		b.Fatalf("a first sync has %d records, want 10000", got)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := f.engine.Pull(ctx, alice, 0, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// embeddedFixture is a fixture on an embedded FerretDB of its own, started in this process with
// the _id expression index as Main adds it (the shared test server has none), holding n records
// of alice ("e000000" onwards).
func embeddedFixture(b *testing.B, n int) *fixture {
	b.Helper()
	dir := b.TempDir()
	srv, err := embedded.Start(dir, "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	ctx := context.Background()
	db, err := mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close(context.Background()) })
	f := newFixtureOn(b, db, nil)
	if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
		b.Fatal(err)
	}
	pushNew(b, f, "e", n)
	return f
}

// BenchmarkPushFeedbackEdits500 is one push of 500 edits of the author's own feedback, with
// 5,000 records stored, on the embedded database; the target is ≥ 1,000 records/s.
func BenchmarkPushFeedbackEdits500(b *testing.B) {
	f := embeddedFixture(b, 5_000)
	round := 0
	for b.Loop() {
		edits := make([]any, 0, 500)
		for i := range 500 {
			id := fmt.Sprintf("e%06d", (round*500+i)%5_000)
			edits = append(edits, with(newRecord(id, fmt.Sprintf("Edited %d", round)), "_status", "updated"))
		}
		round++
		if res := f.push(alice, map[string]changes{"feedback": {Updated: edits}}); res.Accepted != 500 {
			b.Fatalf("push: %d accepted, %d rejected", res.Accepted, len(res.Rejected))
		}
	}
	b.ReportMetric(float64(500*round)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPushFeedbackDeletes500 is one push deleting 500 of the author's feedback, with
// 5,000 records stored, on the embedded database; the target is ≥ 1,000 records/s.
func BenchmarkPushFeedbackDeletes500(b *testing.B) {
	f := embeddedFixture(b, 5_000)
	round := 0
	for b.Loop() {
		b.StopTimer() // 500 records to delete, so that the collection keeps its size
		prefix := fmt.Sprintf("d%03d-", round)
		pushNew(b, f, prefix, 500)
		ids := make([]string, 500)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s%06d", prefix, i)
		}
		round++
		b.StartTimer()
		if res := f.push(alice, map[string]changes{"feedback": {Deleted: ids}}); res.Accepted != 500 {
			b.Fatalf("push: %d accepted, %d rejected", res.Accepted, len(res.Rejected))
		}
	}
	b.ReportMetric(float64(500*round)/b.Elapsed().Seconds(), "records/s")
}
