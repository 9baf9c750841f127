// Package conntimeout enforces an HTTP server's read, write and idle timeouts on its connections
// itself, in place of the deadlines fasthttp sets around every request.
//
// fasthttp, given ReadTimeout, WriteTimeout and IdleTimeout, reads the clock and moves a socket
// deadline three times per request (the idle wait, the request, the response): each is a runtime
// timer modified under the descriptor's lock, about 1 µs of the update check's ~25 µs as deployed
// (api/README.md). A deadline only has to fire when a client stalls, and can afford to fire a
// little late; so this package moves a connection's deadline only when it must: a deadline is set
// up to one granularity (1 s, less for timeouts under 16 s) later than asked, and a later request
// whose deadline falls within that margin leaves the socket alone. A keep-alive connection then
// touches its deadlines about once a second instead of three times per request.
//
// The timeouts keep fasthttp's meaning, each firing no earlier than configured and at most one
// granularity later:
//   - Read: a request, from its first byte (for a new connection: from its acceptance) until its
//     response starts (a "100 Continue" is not its response: the body it asks for is part of the
//     request), may take at most Read to arrive (slow-loris clients are cut off).
//   - Idle: a kept-alive connection waits at most Idle for the next request's first byte.
//   - Write: a response, from its first byte, may take at most Write to be written.
//
// A deadline set on the connection from outside (tusd extends the read deadline while a long
// upload keeps sending, and aborts a read with a deadline of now) takes precedence: the policy
// leaves that direction alone until the exchange ends (the response starts for reads, the next
// request starts for writes).
package conntimeout

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts are the server's timeouts; zero disables one.
type Timeouts struct {
	Read, Write, Idle time.Duration
}

// maxGranularity bounds how late a timeout may fire.
const maxGranularity = time.Second

// granularity is how much later than d a deadline may be set: a sixteenth of d, at most 1 s.
func granularity(d time.Duration) time.Duration { return min(d/16, maxGranularity) }

// Listener wraps ln so that every connection it accepts enforces t. The server must not set
// deadlines of its own (fasthttp: its ReadTimeout, WriteTimeout and IdleTimeout zero).
func Listener(ln net.Listener, t Timeouts) net.Listener {
	if t == (Timeouts{}) {
		return ln
	}
	return &listener{Listener: ln, t: t}
}

type listener struct {
	net.Listener
	t Timeouts
}

// Accept returns the next connection, its first request's read timeout running from now.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, t: l.t, reading: true, readStart: now(),
		readSet: unknown, writeSet: unknown}, nil
}

// epoch anchors the connections' times: now() is one monotonic clock read, where time.Now reads
// the wall clock too.
var epoch = time.Now()

func now() time.Duration { return time.Since(epoch) }

// unknown marks a socket deadline the policy did not set (or no longer knows): the next
// decision sets it.
const unknown = time.Duration(-1)

// conn is one connection. Its unexported fields belong to the goroutine serving it (fasthttp
// reads, runs the handler and writes on one goroutine); the explicit flags may be set from any.
type conn struct {
	net.Conn
	t Timeouts

	reading    bool          // a request is arriving: from its first byte until its response starts
	readStart  time.Duration // when it began
	writing    bool          // a response is being written: from its first byte until the next request
	writeStart time.Duration
	// The socket's deadlines as the policy set them, since epoch: 0 none, unknown not known.
	readSet, writeSet time.Duration

	mu sync.Mutex // orders the policy's deadline changes with explicit ones
	// Deadlines set from outside, which the policy leaves alone until the exchange ends.
	explicitRead, explicitWrite atomic.Bool
}

func (c *conn) Read(p []byte) (int, error) {
	if !c.explicitRead.Load() {
		if c.reading {
			c.keep(true, c.readStart, c.t.Read)
		} else {
			c.keep(true, now(), c.t.Idle)
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 && !c.reading { // a new request's first bytes: its response will be a new one
		c.reading, c.readStart, c.writing = true, now(), false
		if c.explicitWrite.Load() {
			c.release(&c.explicitWrite, &c.writeSet)
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if !c.writing && bytes.HasPrefix(p, interim) {
		// "100 Continue" to a request with "Expect: 100-continue": its body is still to come,
		// within the read timeout that runs from its first byte. Taken for the response, it
		// would restart the read timeout at the body's first byte, after an idle wait for it.
		if !c.explicitWrite.Load() {
			c.keep(false, now(), c.t.Write)
		}
		return c.Conn.Write(p)
	}
	if !c.writing { // a response starts: the request it answers has arrived
		c.writing, c.writeStart, c.reading = true, now(), false
		if c.explicitRead.Load() {
			c.release(&c.explicitRead, &c.readSet)
		}
	}
	if !c.explicitWrite.Load() {
		c.keep(false, c.writeStart, c.t.Write)
	}
	return c.Conn.Write(p)
}

// interim starts the one interim response fasthttp writes (flushed on its own, before the
// request's body is read): 100 Continue.
var interim = []byte("HTTP/1.1 100 ")

// keep makes the socket's read (or write) deadline fall within a granularity after start+d, or
// none when d is zero. It touches the socket only when the deadline it has is earlier than
// that, or more than a granularity later.
func (c *conn) keep(read bool, start, d time.Duration) {
	set, explicit := &c.writeSet, &c.explicitWrite
	if read {
		set, explicit = &c.readSet, &c.explicitRead
	}
	var want time.Duration // 0: no deadline
	if d > 0 {
		g := granularity(d)
		want = start + d
		if *set > 0 && want <= *set && want >= *set-g {
			return
		}
		want += g
	} else if *set == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if explicit.Load() { // set from outside meanwhile: it wins
		return
	}
	var t time.Time
	if want > 0 {
		t = epoch.Add(want)
	}
	var err error
	if read {
		err = c.Conn.SetReadDeadline(t)
	} else {
		err = c.Conn.SetWriteDeadline(t)
	}
	if err != nil {
		*set = unknown
		return
	}
	*set = want
}

// release hands a direction back to the policy after an explicit deadline: the socket's
// deadline is whatever was set from outside.
func (c *conn) release(explicit *atomic.Bool, set *time.Duration) {
	c.mu.Lock()
	explicit.Store(false)
	*set = unknown
	c.mu.Unlock()
}

// SetDeadline sets both deadlines from outside; see the package comment.
func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.explicitRead.Store(true)
	c.explicitWrite.Store(true)
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline from outside; see the package comment.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.explicitRead.Store(true)
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline from outside; see the package comment.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.explicitWrite.Store(true)
	return c.Conn.SetWriteDeadline(t)
}
