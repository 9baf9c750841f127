package logbuf

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// lockedBuffer is a destination safe for the flusher and the test to share.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	last   int // the last write's length
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	l.last = len(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestConcurrentLinesAllArriveWholeAndInOrderPerWriter, through Write (one shard) and through
// WriteKeyed with keys that spread the writers over the shards, two writers to a key.
func TestConcurrentLinesAllArriveWholeAndInOrderPerWriter(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) { testLinesArrive(t, keyed) })
	}
}

func testLinesArrive(t *testing.T, keyed bool) {
	out := &lockedBuffer{}
	w := New(out)
	const writers, lines = 16, 1000
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var line []byte
			for i := 0; i < lines; i++ {
				line = fmt.Appendf(line[:0], "writer %d line %d %s\n", g, i, strings.Repeat("x", i%200))
				if keyed {
					_, _ = w.WriteKeyed(uint64(g/2), line)
				} else {
					_, _ = w.Write(line)
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &g, &i); err != nil || len(l) < len(fmt.Sprintf("writer %d line %d ", g, i))+i%200 {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("writer %d: %d lines arrived, want %d", g, n, lines)
		}
	}
	if out.writes >= writers*lines/10 {
		t.Errorf("%d writes to the destination for %d lines: not batched", out.writes, writers*lines)
	}
}

func TestErrorLinesAreFlushedAtOnce(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out)
	defer w.Close()
	log := slog.New(Handler(slog.NewJSONHandler(w, nil), w)).With("component", "test")
	log.Info("pending")
	log.Error("boom")
	// No waiting: the error record's Handle returned only after the flush.
	if got := out.String(); !strings.Contains(got, `"msg":"boom"`) || !strings.Contains(got, `"msg":"pending"`) {
		t.Fatalf("after an error line the destination holds %q", got)
	}
}

func TestWritesAfterCloseGoStraightThrough(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out)
	fmt.Fprintln(w, "before")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "after")
	if got := out.String(); got != "before\nafter\n" {
		t.Fatalf("destination holds %q", got)
	}
}

// TestABatchGoesStraightThroughAfterWhatCameBefore: a write of FlushSize bytes or more reaches
// the destination at once, in one write, after the lines written before it, and is not copied
// into the pending lines.
func TestABatchGoesStraightThroughAfterWhatCameBefore(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out)
	defer w.Close()
	fmt.Fprintln(w, "first")
	w.WriteKeyed(3, []byte("second\n"))
	batch := []byte(strings.Repeat("batch line\n", FlushSize/10))
	if _, err := w.Write(batch); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "first\nsecond\n"+string(batch); got != want {
		t.Fatalf("destination holds %d bytes, want %d: %.40q...", len(got), len(want), got)
	}
	out.mu.Lock()
	last := out.last
	out.mu.Unlock()
	if last != len(batch) || w.pending() != 0 {
		t.Fatalf("last write %d bytes (want the batch's %d, whole), %d bytes still pending", last, len(batch), w.pending())
	}
}

// blockingWriter holds every write until released: a destination that has fallen behind.
type blockingWriter struct {
	release chan struct{}
	held    atomic.Int64 // bytes of the writes it holds
	lockedBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.held.Add(int64(len(p)))
	<-b.release
	return b.lockedBuffer.Write(p)
}

func TestASlowDestinationHoldsWritersBackInsteadOfGrowingOrDropping(t *testing.T) {
	out := &blockingWriter{release: make(chan struct{})}
	w := New(out)
	line := []byte(strings.Repeat("y", 1023) + "\n")
	total := 2 * MaxPending / len(line)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			_, _ = w.Write(line)
		}
	}()
	// The writer cannot finish while the destination is stuck: it blocks at its shard's share
	// of MaxPending, pending or held by the destination (when the writer's own flush took it).
	for {
		if w.pending()+int(out.held.Load()) >= MaxPending/nShards {
			break
		}
		select {
		case <-done:
			t.Fatal("all lines were taken while the destination accepted nothing")
		default:
			runtime.Gosched()
		}
	}
	close(out.release)
	<-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(out.String()); got != total*len(line) {
		t.Fatalf("%d bytes arrived, want %d", got, total*len(line))
	}
}
