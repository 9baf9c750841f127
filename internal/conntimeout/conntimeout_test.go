package conntimeout_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/mportal/mportal/internal/conntimeout"
)

// The timeouts of these tests: short, so that they run in a second or two, and each other than
// the others so that a test tells which one fired.
var timeouts = conntimeout.Timeouts{Read: 400 * time.Millisecond, Write: 500 * time.Millisecond, Idle: 700 * time.Millisecond}

// late is how much later than configured a timeout may be seen to fire here: the granularity
// (a sixteenth of these timeouts) and a loaded CI machine's scheduling.
const late = 2 * time.Second

// serve runs a fasthttp server (as Fiber configures it: no timeouts of its own, bodies streamed,
// here from their 9th byte on) with handler on a loopback listener wrapped by conntimeout, and returns its address and the
// counts of the deadlines its connections set on their sockets.
func serve(t *testing.T, handler fasthttp.RequestHandler) (addr string, socket *counts) {
	t.Helper()
	return serveWith(t, handler, timeouts)
}

// relaxed are timeouts for the tests that must not see one fire while their client, on a
// loaded machine, stalls between requests.
var relaxed = conntimeout.Timeouts{Read: 4 * time.Second, Write: 5 * time.Second, Idle: 7 * time.Second}

// serveWith is serve with timeouts to of its own.
func serveWith(t *testing.T, handler fasthttp.RequestHandler, to conntimeout.Timeouts) (addr string, socket *counts) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	socket = &counts{}
	srv := &fasthttp.Server{Handler: handler, StreamRequestBody: true, MaxRequestBodySize: 8, Logger: quiet{}}
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(conntimeout.Listener(&countingListener{Listener: ln, counts: socket}, to))
	}()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		<-done
	})
	return ln.Addr().String(), socket
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func ok(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }

// cutOff waits for the server to close c and checks that it did so no earlier than timeout
// after start (and no later than late after that).
func cutOff(t *testing.T, c net.Conn, start time.Time, timeout time.Duration) {
	t.Helper()
	if took := closedWithin(t, c, start, timeout+late); took < timeout {
		t.Errorf("closed after %v, before the timeout of %v", took, timeout)
	}
}

// closedWithin reads from c until the server closes it, and returns how long that took from
// start. It fails if c is still open after limit.
func closedWithin(t *testing.T, c net.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server kept the connection open for more than %v", limit)
			}
			return time.Since(start)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("a request that never ends is cut off after the read timeout, not before", func(t *testing.T) {
		addr, _ := serve(t, ok)
		start := time.Now()
		c := dial(t, addr)
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers never end
			t.Fatal(err)
		}
		cutOff(t, c, start, timeouts.Read)
	})

	t.Run("a connection that sends nothing is cut off after the read timeout", func(t *testing.T) {
		addr, _ := serve(t, ok)
		start := time.Now()
		c := dial(t, addr)
		cutOff(t, c, start, timeouts.Read)
	})

	t.Run("a kept-alive connection waits the idle timeout for its next request, not the read timeout", func(t *testing.T) {
		addr, _ := serve(t, ok)
		c := dial(t, addr)
		r := bufio.NewReader(c)
		// Before the request, not after its answer: the server starts the idle timeout when it
		// has written the answer, and a client on a loaded machine may read it tens of
		// milliseconds later (a CI run measured 687 ms that way). Only a time before the
		// request is sure to precede the server's start.
		start := time.Now()
		get(t, c, r)
		cutOff(t, c, start, timeouts.Idle)
	})

	t.Run("a busy kept-alive connection lives past every timeout", func(t *testing.T) {
		// Short timeouts, as everywhere here, but an idle one that a stall of this client
		// between two requests on a loaded machine does not reach.
		to := conntimeout.Timeouts{Read: timeouts.Read, Write: timeouts.Write, Idle: 1500 * time.Millisecond}
		addr, _ := serveWith(t, ok, to)
		c := dial(t, addr)
		r := bufio.NewReader(c)
		// Requests a quarter of the read timeout apart, for twice the longest timeout: the idle
		// timeout restarts at each request, it is no cap on a connection's life.
		for end := time.Now().Add(2 * to.Idle); time.Now().Before(end); {
			get(t, c, r)
			time.Sleep(timeouts.Read / 4)
		}
	})

	t.Run("a request whose body keeps coming is cut off after the read timeout", func(t *testing.T) {
		addr, _ := serve(t, func(ctx *fasthttp.RequestCtx) {
			_, _ = io.Copy(io.Discard, ctx.RequestBodyStream())
			ctx.SetBodyString("ok")
		})
		start := time.Now()
		c := dial(t, addr)
		go func() { // a byte every tenth of the read timeout, for 4 read timeouts: never finished
			_, _ = c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"))
			for range 40 {
				time.Sleep(timeouts.Read / 10)
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		cutOff(t, c, start, timeouts.Read)
	})

	t.Run("a request told to continue whose body never comes is cut off after the read timeout", func(t *testing.T) {
		// An idle timeout far beyond the read timeout: taken for the response, the "100
		// Continue" made the body wait for it.
		to := conntimeout.Timeouts{Read: timeouts.Read, Write: timeouts.Write, Idle: time.Minute}
		addr, _ := serveWith(t, ok, to)
		start := time.Now()
		c := dial(t, addr)
		if _, err := c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("the server answered %q (%v), not 100 Continue", line, err)
		}
		cutOff(t, c, start, to.Read) // and the body never sent
	})

	t.Run("a request told to continue is answered once its body comes", func(t *testing.T) {
		addr, _ := serveWith(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok" + string(ctx.PostBody())) }, relaxed)
		c := dial(t, addr)
		if _, err := c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		for _, want := range []string{"HTTP/1.1 100 Continue\r\n", "\r\n"} {
			if line, err := r.ReadString('\n'); err != nil || line != want {
				t.Fatalf("the server answered %q (%v), not 100 Continue", line, err)
			}
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if body := readResponse(t, r); body != "okping" {
			t.Fatalf("answer %q", body)
		}
		get(t, c, r) // and the connection serves the next request
	})

	t.Run("a client that does not read its answer is cut off after the write timeout", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 32<<20) // more than both sockets' buffers hold
		var writeErr atomic.Value
		addr, socket := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.Response.SetBodyRaw(big) })
		socket.mu.Lock()
		socket.onWriteErr = func(err error) { writeErr.Store(err) }
		socket.mu.Unlock()
		c := dial(t, addr)
		start := time.Now() // before the request, so surely before the server's write begins
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		for writeErr.Load() == nil {
			if time.Since(start) > timeouts.Write+late {
				t.Fatalf("the server still writes to a client that reads nothing after %v", time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := writeErr.Load().(error); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the write failed with %v, not its deadline", err)
		} else if took := time.Since(start); took < timeouts.Write {
			t.Errorf("the write timed out after %v, before the write timeout of %v", took, timeouts.Write)
		}
	})
}

// A handler that sets a deadline itself (tusd extending the read deadline while a long upload
// keeps sending, then aborting a read with a deadline of now) is obeyed, and the policy takes
// over again for the connection's next request.
func TestExplicitDeadlinesWin(t *testing.T) {
	aborted := make(chan error, 1)
	addr, _ := serve(t, func(ctx *fasthttp.RequestCtx) {
		body := ctx.RequestBodyStream()
		buf := make([]byte, 1)
		n := 0
		for {
			// Longer than the policy's read timeout (what shows the handler's deadline won),
			// and long enough that a stall of either side on a loaded machine does not end it.
			_ = ctx.Conn().SetReadDeadline(time.Now().Add(late))
			k, err := body.Read(buf)
			n += k
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				ctx.Error(err.Error(), http.StatusRequestTimeout)
				return
			}
			if n == 30 && k > 0 && string(ctx.Path()) == "/abort" {
				go func() { _ = ctx.Conn().SetReadDeadline(time.Now()) }()
				for { // what the server has buffered, then the deadline of now
					if _, err := body.Read(buf); err != nil {
						aborted <- err
						return
					}
				}
			}
		}
		ctx.SetBodyString(fmt.Sprint(n))
	})
	c := dial(t, addr)
	r := bufio.NewReader(c)
	var lastByte time.Time // when send began to write the last byte: before the server answered
	send := func(path string, n int) {
		if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, n); err != nil {
			t.Fatal(err)
		}
		for range n { // 2.5 read timeouts in all: only the handler's deadlines keep it going
			time.Sleep(timeouts.Read / 12)
			lastByte = time.Now()
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			if path == "/abort" && len(aborted) > 0 {
				return
			}
		}
	}
	send("/", 30)
	if body := readResponse(t, r); body != "30" {
		t.Fatalf("answer %q, want the 30 bytes counted", body)
	}

	// The policy is back: an idle connection is still closed (timed from the request's last
	// byte, which surely precedes the server's start of the idle timeout).
	cutOff(t, c, lastByte, timeouts.Idle)

	c2 := dial(t, addr)
	c = c2
	send("/abort", 60)
	select {
	case err := <-aborted:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the aborted read returned %v, not its deadline", err)
		}
	case <-time.After(late):
		t.Fatal("a deadline of now set from another goroutine did not abort the blocked read")
	}
}

// The point of the package: a kept-alive connection serving requests back to back changes its
// socket's deadlines about once per granularity, where fasthttp's own timeouts change them three
// times per request.
func TestDeadlinesChangeRarely(t *testing.T) {
	// Long timeouts: a stall of this client between requests must not close the connection.
	addr, socket := serveWith(t, ok, relaxed)
	c := dial(t, addr)
	r := bufio.NewReader(c)
	start := time.Now()
	const requests = 2000
	for range requests {
		get(t, c, r)
	}
	// Each direction: once for the first request, then at most once per granularity (a
	// sixteenth of the read timeout, the finest); a loaded machine's slower loop only lowers the
	// count.
	periods := int64(time.Since(start)/(relaxed.Read/16)) + 1
	reads, writes := socket.reads.Load(), socket.writes.Load()
	if reads > 2*periods+2 || writes > periods+1 {
		t.Errorf("%d requests in %v changed the read deadline %d times and the write deadline %d times (want at most %d and %d)",
			requests, time.Since(start), reads, writes, 2*periods+2, periods+1)
	}
	if reads >= requests || writes >= requests {
		t.Errorf("deadlines changed on every request: %d reads, %d writes for %d requests", reads, writes, requests)
	}
}

// A zero Timeouts leaves the listener as it is.
func TestNoTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := conntimeout.Listener(ln, conntimeout.Timeouts{}); got != ln {
		t.Errorf("got %T, want the listener itself", got)
	}
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if body := readResponse(t, r); body != "ok" {
		t.Fatalf("answer %q", body)
	}
}

func readResponse(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(body))
}

// countingListener's connections count the deadlines set on them (by conntimeout: the server
// sets none itself) and report their write errors.
type countingListener struct {
	net.Listener
	*counts
}

type counts struct {
	reads, writes atomic.Int64
	mu            sync.Mutex
	onWriteErr    func(error)
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, counts: l.counts}, nil
}

type countingConn struct {
	net.Conn
	*counts
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.reads.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.writes.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.reads.Add(1)
	c.writes.Add(1)
	return c.Conn.SetDeadline(t)
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.mu.Lock()
		f := c.onWriteErr
		c.mu.Unlock()
		if f != nil {
			f(err)
		}
	}
	return n, err
}
