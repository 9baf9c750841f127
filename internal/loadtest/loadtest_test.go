package loadtest_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/loadtest"
)

// recorder is an httptest server on 127.0.0.1 that counts what it receives.
type recorder struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	paths    map[string]int
	bad      []string // requests that did not carry what the Config said
}

func newRecorder(t *testing.T, status int) *recorder {
	t.Helper()
	r := &recorder{paths: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.paths[req.URL.Path]++
		if req.Method == http.MethodPut && (string(body) != `{"n":1}` || req.Header.Get("Authorization") != "Bearer t0k") {
			r.bad = append(r.bad, req.Method+" "+req.URL.Path+" "+string(body))
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

// seen is what a recorder received, copied out under its lock.
type seen struct {
	paths map[string]int
	bad   []string
}

func (r *recorder) snapshot() seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return seen{paths: maps.Clone(r.paths), bad: slices.Clone(r.bad)}
}

func TestRun(t *testing.T) {
	ctx := context.Background()

	t.Run("sends exactly MaxRequests with the configured method, headers and body", func(t *testing.T) {
		srv := newRecorder(t, http.StatusOK)
		rep, err := loadtest.Run(ctx, loadtest.Config{
			URL: srv.URL + "/v1/devices/d1", Method: http.MethodPut,
			Headers:     http.Header{"Authorization": {"Bearer t0k"}, "Content-Type": {"application/json"}},
			Body:        []byte(`{"n":1}`),
			Concurrency: 8, MaxRequests: 200, Duration: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 200 || rep.Errors != 0 || rep.Non2xx != 0 || rep.Statuses[200] != 200 {
			t.Fatalf("report %+v", rep)
		}
		if got := srv.requests.Load(); got != 200 {
			t.Fatalf("server saw %d requests, want 200", got)
		}
		if bad := srv.snapshot().bad; len(bad) > 0 {
			t.Fatalf("requests without the configured body or headers: %q", bad)
		}
		if rep.RPS <= 0 || rep.P50 <= 0 || rep.P50 > rep.P90 || rep.P90 > rep.P99 || rep.P99 > rep.Max {
			t.Fatalf("figures out of order: %+v", rep)
		}
	})
	t.Run("stops by itself when Duration has passed", func(t *testing.T) {
		srv := newRecorder(t, http.StatusOK)
		rep, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL, Concurrency: 4, Duration: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// Returning at all proves it stopped by itself (there is no request limit); how long it
		// took is not asserted: timing checks are flaky on a loaded machine.
		if rep.Requests == 0 || rep.Elapsed <= 0 {
			t.Fatalf("report %+v", rep)
		}
		if got := srv.requests.Load(); got != rep.Requests {
			t.Fatalf("server saw %d requests, report says %d", got, rep.Requests)
		}
	})
	t.Run("counts responses outside 2xx", func(t *testing.T) {
		srv := newRecorder(t, http.StatusServiceUnavailable)
		rep, err := loadtest.Run(ctx, loadtest.Config{URL: srv.URL, Concurrency: 2, MaxRequests: 20})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 20 || rep.Non2xx != 20 || rep.Errors != 0 || rep.Statuses[503] != 20 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("counts a refused connection as an error, without retrying", func(t *testing.T) {
		rep, err := loadtest.Run(ctx, loadtest.Config{URL: "http://" + closedPort(t) + "/", Concurrency: 2, MaxRequests: 10})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Requests != 10 || rep.Errors != 10 || rep.FirstError == "" || rep.RPS != 0 {
			t.Fatalf("report %+v", rep)
		}
	})
	t.Run("spreads workers over URLs", func(t *testing.T) {
		srv := newRecorder(t, http.StatusOK)
		_, err := loadtest.Run(ctx, loadtest.Config{
			URLs: []string{srv.URL + "/a", srv.URL + "/b"}, Concurrency: 4, MaxRequests: 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		paths := srv.snapshot().paths
		if paths["/a"] == 0 || paths["/b"] == 0 || paths["/a"]+paths["/b"] != 100 {
			t.Fatalf("paths %v", paths)
		}
	})
	t.Run("ends early when the context is cancelled", func(t *testing.T) {
		srv := newRecorder(t, http.StatusOK)
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			for srv.requests.Load() < 10 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		rep, err := loadtest.Run(cctx, loadtest.Config{URL: srv.URL, Concurrency: 2, Duration: loadtest.MaxDuration})
		if !errors.Is(err, context.Canceled) || rep == nil || rep.Requests < 10 {
			t.Fatalf("report %+v, err %v", rep, err)
		}
	})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRunRefusesNonLoopbackTargets(t *testing.T) {
	for _, url := range []string{
		"http://10.0.0.1/",
		"http://192.168.1.10:8080/v1/me",
		"http://0.0.0.0:8080/",
		"http://[2001:db8::1]:8080/",
		"http://example.com/",
		"http://localhost.example.com/",
		"http://127.0.0.1.nip.io/",
		"https://8.8.8.8/",
	} {
		t.Run("refuses "+url, func(t *testing.T) {
			rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: url, MaxRequests: 1})
			if err == nil || !strings.Contains(err.Error(), "loopback") || rep != nil {
				t.Fatalf("report %+v, err %v", rep, err)
			}
		})
	}
	t.Run("refuses a list with one non-loopback URL", func(t *testing.T) {
		err := loadtest.Config{URLs: []string{"http://127.0.0.1:1/", "http://10.0.0.1:1/"}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  loadtest.Config
		want string // part of the error; empty for a valid Config
	}{
		{"accepts 127.0.0.1", loadtest.Config{URL: "http://127.0.0.1:8080/v1/me"}, ""},
		{"accepts the rest of 127.0.0.0/8", loadtest.Config{URL: "http://127.1.2.3/"}, ""},
		{"accepts ::1", loadtest.Config{URL: "http://[::1]:8080/"}, ""},
		{"accepts localhost in any case", loadtest.Config{URL: "https://LocalHost:8443/"}, ""},
		{"requires a URL", loadtest.Config{}, "URL is required"},
		{"refuses other schemes", loadtest.Config{URL: "ftp://127.0.0.1/"}, "scheme"},
		{"refuses URLs on two ports", loadtest.Config{URLs: []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}}, "not on"},
		{"refuses negative concurrency", loadtest.Config{URL: "http://127.0.0.1/", Concurrency: -1}, "concurrency"},
		{"refuses too much concurrency", loadtest.Config{URL: "http://127.0.0.1/", Concurrency: loadtest.MaxConcurrency + 1}, "concurrency"},
		{"refuses an unbounded duration", loadtest.Config{URL: "http://127.0.0.1/", Duration: loadtest.MaxDuration + 1}, "duration"},
		{"refuses a negative request count", loadtest.Config{URL: "http://127.0.0.1/", MaxRequests: -1}, "max requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBaseline(t *testing.T) {
	b, err := loadtest.StartBaseline()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: b.URL, Concurrency: 4, MaxRequests: 100})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 100 || rep.Statuses[200] != 100 {
		t.Fatalf("report %+v", rep)
	}
	var out strings.Builder
	if err := rep.Write(&out); err != nil || !strings.Contains(out.String(), "req/s") {
		t.Fatalf("written report %q, err %v", out.String(), err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
