package api

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/mportal/mportal/internal/logbuf"
)

// observer records the finished requests' metrics and access log lines off the request path
// (issue #14 B: "buffered/asynchronous log writing"). A request leaves what both need in a queue
// (a copy of a few dozen bytes under a lock of its queue's own); a goroutine formats the lines and
// counts the metrics a batch at a time, every logbuf.FlushInterval or as soon as a queue holds
// observeBatch requests, and writes the lines in one write (which logbuf.Writer passes on
// without a copy once it is FlushSize or more). Done per request, the line and the metrics cost
// about a fifth of the update check's own CPU, most of it in caches that the kernel and the load
// generator had cooled between two requests, and in the metrics' shared counters moving between
// the cores; done in a batch, the same code and counters stay hot.
//
// Nothing is dropped: a queue that reaches observeMax requests or observeMaxText bytes of ids and
// paths (the goroutine has fallen behind) is written by the request that filled it, as logbuf
// applies back-pressure. The metrics are current whenever they are read (Count, which the
// metrics listener calls before each scrape, and which never waits for the log's destination);
// what a crash loses is at most one interval of lines and counts, as with logbuf. Close writes
// what is queued, once in-flight requests are done (Server.Shutdown).
type observer struct {
	out     io.Writer
	metrics *metrics

	queues [observeQueues]observeQueue

	// collectMu guards collecting (the queues' drain into counted metrics and formatted lines)
	// and pending, the lines formatted but not yet written, in order. writeMu is held by the
	// write of what one Flush collected, and taken before collectMu, so that writes keep the
	// order of collection while a Count (collectMu only) never waits for a slow destination.
	collectMu sync.Mutex
	pending   []byte
	writeMu   sync.Mutex
	writing   []byte // the buffer the last write emptied, guarded by writeMu

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool
}

const (
	observeQueues  = 8                                 // a power of two above the cores a server of ours is given
	observeBatch   = 512                               // a queue this long wakes the goroutine
	observeMax     = 8192                              // a queue this long is drained by the request that filled it
	observeMaxText = logbuf.MaxPending / observeQueues // so is one holding this many bytes of ids and paths
)

// observeQueue holds one connection's (and its neighbours') finished requests in order.
type observeQueue struct {
	mu   sync.Mutex
	reqs []finishedRequest
	text []byte // the requests' ids and paths: the request's own buffers are reused when it ends
	// spare* are the slices the last drain emptied, handed back for the next batch.
	spareReqs []finishedRequest
	spareText []byte
	_         [64]byte // keeps neighbouring queues' locks off each other's cache lines
}

// finishedRequest is what the metrics and the access line need of a request. Its strings are
// constants (the method, the route's template) or the principal's (the user id), which outlive
// the request; its id and path are copied into the queue's text.
type finishedRequest struct {
	at                time.Time
	elapsed           time.Duration
	route             *fiber.Route // nil: unmatched
	method, routePath string
	userID            string
	// peer is the connection's address, read as text only when the line is written (a few
	// cold pointers less per request); ip the client's behind trusted proxies (peer nil).
	peer           net.Addr
	ip             netip.Addr
	status, bytes  int
	idEnd, pathEnd int // the id is text[previous pathEnd:idEnd], the path text[idEnd:pathEnd]
}

func newObserver(out io.Writer, m *metrics) *observer {
	o := &observer{out: out, metrics: m, wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
	go o.run()
	return o
}

// record queues r, with its id and path copied, in the queue of connection conn.
func (o *observer) record(conn uint64, r finishedRequest, id, path string) {
	q := &o.queues[conn&(observeQueues-1)]
	q.mu.Lock()
	q.text = append(q.text, id...)
	r.idEnd = len(q.text)
	q.text = append(q.text, path...)
	r.pathEnd = len(q.text)
	q.reqs = append(q.reqs, r)
	n, size := len(q.reqs), len(q.text)
	q.mu.Unlock()
	switch {
	case n >= observeMax || size >= observeMaxText || o.closed.Load():
		o.Flush()
	case n == observeBatch:
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

// Flush counts and writes every queued request now.
func (o *observer) Flush() {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.collectMu.Lock()
	o.collectLocked()
	data := o.pending
	o.pending = o.writing[:0]
	o.collectMu.Unlock()
	if len(data) > 0 {
		_, _ = o.out.Write(data) // a log writer's failure has nowhere better to go
	}
	if cap(data) > 2*logbuf.MaxPending { // do not keep a burst's buffer forever
		data = nil
	}
	o.writing = data[:0]
}

// Count counts every queued request's metrics now; their lines are written by the next Flush
// (the goroutine's, at once). It waits for no write: while the log's destination is stuck, a
// scrape still answers. Lines already waiting for a stuck write (logbuf.MaxPending bytes) are
// not added to: the requests then stay queued, and counted, at the next Count after the write.
func (o *observer) Count() {
	o.collectMu.Lock()
	if len(o.pending) < logbuf.MaxPending {
		o.collectLocked()
	}
	o.collectMu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// collectLocked moves every queued request into the metrics and pending's lines. The caller
// holds collectMu.
func (o *observer) collectLocked() {
	lines := o.pending
	for i := range o.queues {
		q := &o.queues[i]
		q.mu.Lock()
		reqs, text := q.reqs, q.text
		q.reqs, q.text = q.spareReqs[:0], q.spareText[:0]
		q.spareReqs, q.spareText = nil, nil
		q.mu.Unlock()
		start := 0
		for j := range reqs {
			r := &reqs[j]
			o.metrics.observe(r.route, r.method, r.routePath, r.status, r.elapsed)
			lines = appendAccessLine(lines, accessLine{at: r.at, requestID: utils.UnsafeString(text[start:r.idEnd]),
				method: r.method, route: r.routePath, path: utils.UnsafeString(text[r.idEnd:r.pathEnd]), ip: r.addr(),
				userID: r.userID, status: r.status, bytes: r.bytes, elapsed: r.elapsed})
			start = r.pathEnd
			// The user id: the spare slice must not keep it alive.
			*r = finishedRequest{}
		}
		// Do not keep a burst's buffers forever.
		if cap(reqs) > 2*observeMax {
			reqs = nil
		}
		if cap(text) > 2*observeMaxText {
			text = nil
		}
		q.mu.Lock()
		q.spareReqs, q.spareText = reqs[:0], text[:0]
		q.mu.Unlock()
	}
	o.pending = lines
}

// Close stops the goroutine and writes what is queued. Requests that finish later are written
// at once, by Flush. It is safe to call more than once.
func (o *observer) Close() {
	o.closeOnce.Do(func() {
		o.closed.Store(true)
		close(o.stop)
		<-o.done
	})
	o.Flush()
}

func (o *observer) run() {
	defer close(o.done)
	t := time.NewTicker(logbuf.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		case <-o.wake:
		}
		o.Flush()
	}
}

// addr is the address the request's access line records.
func (r *finishedRequest) addr() netip.Addr {
	if r.peer == nil {
		return r.ip
	}
	ip := net.IPv4zero          // fasthttp's RemoteIP for a peer that is neither TCP nor UDP
	switch a := r.peer.(type) { // as fasthttp's RemoteIP reads a connection's address
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr
}
