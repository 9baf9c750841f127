package analytics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/testenv"
)

func TestPurgeDeletesRawEventsPastTheRetentionButKeepsTheCounts(t *testing.T) {
	c := testenv.NewClock(start)
	db := testenv.Mongo(t)
	s := &analytics.Service{DB: db, Key: key, Now: c.Now, Retention: 40 * 24 * time.Hour}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	old, recent := start.Add(-25*24*time.Hour), start.Add(-time.Hour)
	if _, err := s.Ingest(t.Context(), employee("u1", "Sales", "d1"), batch(start, view("old", "home", old), view("new", "home", recent))); err != nil {
		t.Fatal(err)
	}
	c.Advance(20 * 24 * time.Hour) // "old" is now 45 days old, "new" 20
	n, err := s.Purge(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1 deleted", n, err)
	}
	left, err := db.Collection("analytics_events").CountDocuments(t.Context(), map[string]any{})
	if err != nil || left != 1 {
		t.Fatalf("%d raw events left (%v), want 1", left, err)
	}
	if n, err := s.Purge(t.Context()); err != nil || n != 0 {
		t.Fatalf("second Purge = %d, %v; want nothing to do", n, err)
	}
	if got := active(t, s, day(old), day(old)); got.Users != 1 {
		t.Fatalf("the purged day's count = %d, want 1 (rollups keep counts)", got.Users)
	}
}

func TestRecorderWritesServerEventsWithoutBlocking(t *testing.T) {
	c := testenv.NewClock(start)
	s := newService(t, testenv.Mongo(t), c)
	r := analytics.NewRecorder(s, func(_ context.Context, userID string) (string, []string, error) {
		return "Sales", []string{"employee"}, nil
	}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for i := range 20 {
		r.Record(fmt.Sprint("user", i%5), "dev", "sign_in", nil)
	}
	cancel()
	<-done // Run writes what is queued before it returns
	got := active(t, s, day(start), day(start))
	if got.Users != 5 {
		t.Fatalf("active users after 20 sign-ins of 5 users = %d, want 5", got.Users)
	}
	b, err := s.BreakdownBy(ops, analytics.Range{From: day(start), To: day(start)}, "department")
	if err != nil || len(b) != 1 || b[0].Value != "Sales" || b[0].Users != 5 {
		t.Fatalf("breakdown = %+v, %v", b, err)
	}

	// A full queue drops events instead of blocking the service that records them.
	full := analytics.NewRecorder(s, nil, nil)
	for range 10_001 {
		full.Record("u", "", "sign_in", nil)
	}
	if full.Dropped() != 1 {
		t.Fatalf("dropped %d events, want 1", full.Dropped())
	}
}

// TestRecorderKeepsABatchWhoseWriteTheShutdownInterrupts: the shutdown comes while the
// once-a-second flush is writing a batch; the batch is still written.
func TestRecorderKeepsABatchWhoseWriteTheShutdownInterrupts(t *testing.T) {
	c := testenv.NewClock(start)
	s := newService(t, testenv.Mongo(t), c)
	writing, release := make(chan struct{}), make(chan struct{})
	r := analytics.NewRecorder(s, func(_ context.Context, userID string) (string, []string, error) {
		close(writing) // one user: called once, by the write of the batch
		<-release
		return "Sales", []string{"employee"}, nil
	}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	r.Record("user1", "dev", "sign_in", nil)
	select {
	case <-writing: // the tick's flush is writing the batch
	case <-time.After(time.Minute):
		t.Fatal("the recorder never wrote its batch")
	}
	cancel()
	close(release)
	<-done
	if got := active(t, s, day(start), day(start)); got.Users != 1 {
		t.Fatalf("active users = %d, want 1: the batch being written at the shutdown was lost", got.Users)
	}
}
