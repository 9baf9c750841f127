package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/testenv"
)

// lockedBuffer is a log destination the observer's goroutine and the test share.
type lockedBuffer = testenv.LogBuffer

// accessLines decodes the access lines in text.
func accessLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	return lines
}

// TestObserverWritesEveryRequestOnceInConnectionOrder: requests finishing on many connections at
// once each get one line, with their own id and path, and a connection's lines keep its
// requests' order; the metrics count every request once.
func TestObserverWritesEveryRequestOnceInConnectionOrder(t *testing.T) {
	var out lockedBuffer
	m := newMetrics(nil)
	o := newObserver(&out, m)
	const conns, perConn = 12, 700 // past observeBatch: the goroutine drains while requests come
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perConn {
				// The id and path view a buffer that is reused once the request ends, as a
				// request's do.
				buf := []byte(fmt.Sprintf("c%d-r%d/v1/conn/%d/%d", c, i, c, i))
				idLen := bytes.IndexByte(buf, '/')
				o.record(uint64(c), finishedRequest{at: time.Unix(0, 0), method: "GET", routePath: "unmatched",
					ip: netip.MustParseAddr("127.0.0.1"), status: 404},
					unsafe.String(&buf[0], idLen), unsafe.String(&buf[idLen], len(buf)-idLen))
				for j := range buf {
					buf[j] = 'x'
				}
			}
		}()
	}
	wg.Wait()
	o.Close()
	next := make(map[int]int)
	lines := accessLines(t, out.String())
	if len(lines) != conns*perConn {
		t.Fatalf("%d lines, want %d", len(lines), conns*perConn)
	}
	for _, l := range lines {
		var c, i int
		if _, err := fmt.Sscanf(l["request_id"].(string), "c%d-r%d", &c, &i); err != nil {
			t.Fatalf("request id %v: %v", l["request_id"], err)
		}
		if i != next[c] {
			t.Fatalf("connection %d: request %d after %d", c, i, next[c]-1)
		}
		next[c]++
		if want := fmt.Sprintf("/v1/conn/%d/%d", c, i); l["path"] != want {
			t.Fatalf("%v: path %v, want %s", l["request_id"], l["path"], want)
		}
	}
	var counted dto.Metric
	if err := m.requests.WithLabelValues("GET", "unmatched", "404").Write(&counted); err != nil {
		t.Fatal(err)
	}
	if got := counted.GetCounter().GetValue(); got != conns*perConn {
		t.Fatalf("requests counted %v, want %d", got, conns*perConn)
	}
}

// TestObserverBackPressure: without its goroutine (fallen behind), a queue is written by the
// request that fills it to observeMax, so that it never grows past that.
func TestObserverBackPressure(t *testing.T) {
	var out lockedBuffer
	o := &observer{out: &out, metrics: newMetrics(nil), wake: make(chan struct{}, 1)}
	for i := range observeMax + 3 {
		o.record(5, finishedRequest{at: time.Unix(0, 0), method: "GET", routePath: "unmatched", status: 404},
			fmt.Sprint("r", i), "/x")
	}
	if n := len(accessLines(t, out.String())); n != observeMax {
		t.Fatalf("%d lines written, want %d", n, observeMax)
	}
	if n := len(o.queues[5].reqs); n != 3 {
		t.Fatalf("%d requests queued, want 3", n)
	}
}

// TestObservedRequestsThroughTheServer: with an access log (as deployed), a scrape counts every
// request answered before it, without waiting for the observer's interval, and Shutdown writes
// every line.
func TestObservedRequestsThroughTheServer(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	reg := prometheus.NewRegistry()
	s := New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Sessions: fakeSessions{}, Registry: reg, AccessLog: &out})
	const n = 7
	for range n {
		do(t, s, httptest.NewRequest(http.MethodGet, "/v1/no-such-thing/secret?token=query-secret", nil))
	}
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := fmt.Sprintf(`mportal_http_requests_total{method="GET",route="unmatched",status="404"} %d`, n); !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s:\n%s", want, rec.Body.String())
	}
	do(t, s, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	lines := accessLines(t, out.String())
	if len(lines) != n+1 {
		t.Fatalf("%d access lines, want %d:\n%s", len(lines), n+1, out.String())
	}
	for _, l := range lines[:n] {
		if l["path"] != "/v1/no-such-thing/secret" || l["status"] != 404.0 || l["method"] != "GET" || l["request_id"] == "" {
			t.Fatalf("line %v", l)
		}
	}
	if strings.Contains(out.String(), "query-secret") {
		t.Fatal("the query string reached the access log")
	}
}

// TestObservedClientBehindTrustedProxies: behind a trusted proxy the access line names the
// client from X-Forwarded-For, read while the request's headers are there.
func TestObservedClientBehindTrustedProxies(t *testing.T) {
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "MPORTAL_TRUSTED_PROXIES" {
			return "0.0.0.0/0", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	s := New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Sessions: fakeSessions{}, AccessLog: &out})
	r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	do(t, s, r)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lines := accessLines(t, out.String()); len(lines) != 1 || lines[0]["ip"] != "203.0.113.9" {
		t.Fatalf("lines %v, want one naming 203.0.113.9", lines)
	}
}

// TestObserverBoundsTheBytesQueued: a queue of long paths is written by the request that brings
// it to observeMaxText bytes, long before observeMax requests.
func TestObserverBoundsTheBytesQueued(t *testing.T) {
	var out lockedBuffer
	o := &observer{out: &out, metrics: newMetrics(nil), wake: make(chan struct{}, 1)}
	path := "/" + strings.Repeat("p", 8<<10-1) // a request line at the header limit
	n := observeMaxText / len(path)            // with their ids, these n reach the bound
	for i := range n {
		o.record(2, finishedRequest{at: time.Unix(0, 0), method: "GET", routePath: "unmatched", status: 404},
			fmt.Sprint("r", i), path)
	}
	if got := len(accessLines(t, out.String())); got != n || len(o.queues[2].reqs) != 0 {
		t.Fatalf("%d lines written after %d requests of 8 KiB paths (%d still queued), want all of them", got, n, len(o.queues[2].reqs))
	}
}

// stuckWriter holds every write until released: a log destination that has stopped reading.
type stuckWriter struct {
	entered chan struct{}
	release chan struct{}
	lockedBuffer
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	return w.lockedBuffer.Write(p)
}

// TestCountDoesNotWaitForAStuckLog: while the access log's destination is stuck in a write, a
// scrape's Count still returns at once with every request counted; once it is released, every
// line is written, once.
func TestCountDoesNotWaitForAStuckLog(t *testing.T) {
	w := &stuckWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	m := newMetrics(nil)
	o := newObserver(w, m)
	req := func(i int) {
		o.record(uint64(i), finishedRequest{at: time.Unix(0, 0), method: "GET", routePath: "unmatched", status: 404},
			fmt.Sprint("r", i), "/x")
	}
	req(0)
	go o.Flush()
	<-w.entered // the first line's write is stuck
	for i := 1; i <= 5; i++ {
		req(i)
	}
	counted := make(chan struct{})
	go func() { o.Count(); close(counted) }()
	select {
	case <-counted:
	case <-time.After(10 * time.Second):
		t.Fatal("Count waited for the stuck write")
	}
	var got dto.Metric
	if err := m.requests.WithLabelValues("GET", "unmatched", "404").Write(&got); err != nil {
		t.Fatal(err)
	}
	if v := got.GetCounter().GetValue(); v != 6 {
		t.Fatalf("counted %v requests during the stuck write, want 6", v)
	}
	close(w.release)
	o.Close()
	lines := accessLines(t, w.String())
	seen := map[any]int{}
	for _, l := range lines {
		seen[l["request_id"]]++
	}
	if len(lines) != 6 || len(seen) != 6 {
		t.Fatalf("%d lines for %d distinct requests, want 6 once each: %v", len(lines), len(seen), seen)
	}
}

// TestObservedPeerAddress: the access line records a peer's address as fasthttp's RemoteIP reads
// it, 0.0.0.0 for a peer that is neither TCP nor UDP (the synchronous path's value).
func TestObservedPeerAddress(t *testing.T) {
	for _, tc := range []struct {
		peer net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000}, "192.0.2.7"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 4000}, "2001:db8::1"},
		{&net.UnixAddr{Name: "/run/mportal.sock", Net: "unix"}, "0.0.0.0"},
	} {
		r := finishedRequest{peer: tc.peer}
		if got := r.addr().Unmap().String(); got != tc.want {
			t.Errorf("peer %v: addr %q, want %q", tc.peer, got, tc.want)
		}
	}
}
