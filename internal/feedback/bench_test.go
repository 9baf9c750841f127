package feedback

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"
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
