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
type Writer struct {
	out io.Writer

	mu      sync.Mutex // guards pending and closed
	pending []byte
	closed  bool

	flushMu sync.Mutex // one flush at a time, in order; guards spare
	spare   []byte

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer that writes to out.
func New(out io.Writer) *Writer {
	w := &Writer{
		out:     out,
		pending: make([]byte, 0, FlushSize*2),
		spare:   make([]byte, 0, FlushSize*2),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.run()
	return w
}

// Write copies p to the pending lines. It never fails: an error of the destination is the
// flusher's (see Flush).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	n := len(w.pending)
	w.mu.Unlock()
	switch {
	case n >= MaxPending:
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
	w.mu.Lock()
	data := w.pending
	w.pending, w.spare = w.spare[:0], data
	w.mu.Unlock()
	if len(data) == 0 {
		return nil
	}
	_, err := w.out.Write(data)
	if cap(data) > MaxPending*2 {
		w.spare = make([]byte, 0, FlushSize*2) // do not keep a burst's buffer forever
	}
	return err
}

// Close writes the pending lines and stops the flusher. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
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
