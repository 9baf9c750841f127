package logbuf

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a destination safe for the flusher and the test to share.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestConcurrentLinesAllArriveWholeAndInOrderPerWriter(t *testing.T) {
	out := &lockedBuffer{}
	w := New(out)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				fmt.Fprintf(w, "writer %d line %d %s\n", g, i, strings.Repeat("x", i%200))
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

// blockingWriter holds every write until released: a destination that has fallen behind.
type blockingWriter struct {
	release chan struct{}
	lockedBuffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
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
	// The writer cannot finish while the destination is stuck: it blocks at MaxPending.
	for {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n >= MaxPending {
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
