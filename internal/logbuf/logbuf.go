// Package logbuf keeps log writing off the request path. A Writer takes each log line into
// memory and a background goroutine writes what has gathered in one write call, every
// FlushInterval or as soon as FlushSize bytes are pending, so that an access-log line costs a
// copy instead of a write system call per request (issue #14 B: the update check lost a third of
// its throughput to them).
//
// Nothing is dropped: when the destination falls behind and MaxPending bytes are waiting, Write
// blocks until they are written (back-pressure, as an unbuffered writer would). What a crash
// can lose is at most one FlushInterval of lines; a Handler flushes at once after every record
// at error level or above, so the lines that explain a failure are out before it propagates.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of a Writer's settings.
const (
	FlushInterval = 100 * time.Millisecond
	FlushSize     = 32 << 10
	MaxPending    = 4 << 20
)

// Writer buffers writes to an io.Writer; it is safe for concurrent use. Close writes what is
// pending and stops the background goroutine; writes after Close go straight through.
//
// The pending lines are kept in shards, each with a lock of its own: with one lock, every
// request's line made the cores take turns with that lock's cache line, which cost more than the
// copy it guarded (about a tenth of the update check's in-process CPU). WriteKeyed picks the shard
// by a key (the API uses the connection's id), so lines with one key keep their order; lines with
// different keys may reach the destination in a different order within one flush (each carries
// its time).
type Writer struct {
	out io.Writer

	// shards hold the pending lines. closed is guarded by every shard's lock: it is read under
	// any one and set with all of them held.
	shards [nShards]shard
	closed bool

	flushMu sync.Mutex // one flush at a time, in order; guards batch
	batch   []byte

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// nShards is a power of two above the cores a server of ours is given.
const nShards = 8

type shard struct {
	mu      sync.Mutex
	pending []byte
	_       [96]byte // keeps neighbouring shards' locks off each other's cache lines
}

// New starts a Writer that writes to out.
func New(out io.Writer) *Writer {
	w := &Writer{
		out:   out,
		batch: make([]byte, 0, FlushSize*2),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for i := range w.shards {
		w.shards[i].pending = make([]byte, 0, FlushSize/2)
	}
	go w.run()
	return w
}

// Write copies p to the pending lines, in the shard of key 0. It never fails: an error of the
// destination is the flusher's (see Flush).
func (w *Writer) Write(p []byte) (int, error) { return w.WriteKeyed(0, p) }

// WriteKeyed is Write into the shard of key: writes with one key reach the destination in the
// order they were made. A write of FlushSize bytes or more is not copied: the pending lines are
// written, then it, at once.
func (w *Writer) WriteKeyed(key uint64, p []byte) (int, error) {
	s := &w.shards[key%nShards]
	s.mu.Lock()
	if w.closed {
		s.mu.Unlock()
		return w.out.Write(p)
	}
	if len(p) >= FlushSize { // a batch of lines already (the API's access log): no copy
		s.mu.Unlock()
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		_ = w.flushLocked() // what was written before p goes before it
		_, _ = w.out.Write(p)
		return len(p), nil
	}
	s.pending = append(s.pending, p...)
	n := len(s.pending)
	s.mu.Unlock()
	switch {
	case n >= MaxPending/nShards:
		_ = w.Flush()
	case n >= FlushSize:
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes the pending lines now.
func (w *Writer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	data := w.batch[:0]
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		data = append(data, s.pending...)
		s.pending = s.pending[:0]
		if cap(s.pending) > MaxPending/nShards*2 {
			s.pending = make([]byte, 0, FlushSize/2) // do not keep a burst's buffer forever
		}
		s.mu.Unlock()
	}
	w.batch = data
	if cap(w.batch) > MaxPending*2 {
		w.batch = make([]byte, 0, FlushSize*2)
	}
	if len(data) == 0 {
		return nil
	}
	_, err := w.out.Write(data)
	return err
}

// pending is the number of bytes waiting.
func (w *Writer) pending() int {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		n += len(s.pending)
		s.mu.Unlock()
	}
	return n
}

// Close writes the pending lines and stops the flusher. It is safe to call more than once.
func (w *Writer) Close() error {
	for i := range w.shards {
		w.shards[i].mu.Lock()
	}
	was := w.closed
	w.closed = true
	for i := range w.shards {
		w.shards[i].mu.Unlock()
	}
	if was {
		return nil
	}
	close(w.stop)
	<-w.done
	return w.Flush()
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.wake:
		}
		_ = w.Flush() // the destination's error has nowhere better to go than the next try
	}
}

// Handler wraps a slog.Handler that writes to w and flushes w after every record at error level
// or above.
func Handler(h slog.Handler, w *Writer) slog.Handler { return flushing{Handler: h, w: w} }

type flushing struct {
	slog.Handler
	w *Writer
}

func (f flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{Handler: f.Handler.WithAttrs(attrs), w: f.w}
}

func (f flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: f.Handler.WithGroup(name), w: f.w}
}
