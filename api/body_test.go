package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/upload"
)

// countingUploads stands in for the tus service: it reads each body to its end (or not at all
// for a path ending in "/conflict") and records what arrived.
type countingUploads struct {
	firstBytes chan struct{} // closed when the first body bytes reach the handler
	once       sync.Once
	mu         sync.Mutex
	got        []byte // SHA-256 of the last body read
	n          int64
	length     int64 // the request's ContentLength
	byPath     map[string][]byte
}

func (u *countingUploads) Handler(upload.ProblemWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/conflict") {
			w.WriteHeader(http.StatusConflict)
			return
		}
		h := sha256.New()
		buf := make([]byte, 32<<10)
		var n int64
		for {
			k, err := r.Body.Read(buf)
			if k > 0 {
				u.once.Do(func() { close(u.firstBytes) })
			}
			h.Write(buf[:k])
			n += int64(k)
			if err != nil {
				break
			}
		}
		u.mu.Lock()
		u.got, u.n, u.length = h.Sum(nil), n, r.ContentLength
		if u.byPath == nil {
			u.byPath = map[string][]byte{}
		}
		u.byPath[r.URL.Path] = u.got
		u.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

// newStreamingServer serves the API with countingUploads on a loopback listener: streaming
// needs a real connection. The body limit is 4 KiB (the import limit).
func newStreamingServer(t *testing.T) (string, *countingUploads) {
	t.Helper()
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.BodyLimit, cfg.ImportLimit = 1024, 4096
	up := &countingUploads{firstBytes: make(chan struct{})}
	s := New(Deps{Config: cfg, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Sessions: fakeSessions{},
		JWKS: func() ([]byte, error) { return []byte(`{"keys":[]}`), nil }, OpenAPI: []byte("openapi: 3.1.0\n"), Uploads: up})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String(), up
}

func TestUploadBodiesAreStreamedPastTheBodyLimit(t *testing.T) {
	base, up := newStreamingServer(t)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	t.Run("a PATCH 64 times the body limit reaches the tus handler while it is being sent", func(t *testing.T) {
		body := make([]byte, 64*4096)
		rng := rand.NewChaCha8([32]byte{1})
		_, _ = rng.Read(body)
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			// The first 16 KiB, then the rest only once the handler has read some: a server
			// that read the whole body before its handler ran would never get the rest.
			_, _ = pw.Write(body[:16<<10])
			select {
			case <-up.firstBytes:
				_, _ = pw.Write(body[16<<10:])
				_ = pw.Close()
			case <-done:
				_ = pw.CloseWithError(io.ErrClosedPipe)
			}
		}()
		req, _ := http.NewRequest(http.MethodPatch, base+"/v1/uploads/abc", pr)
		req.ContentLength = int64(len(body))
		req.Header.Set("Authorization", "Bearer good")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := client.Do(req)
		close(done)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := sha256.Sum256(body)
		up.mu.Lock()
		defer up.mu.Unlock()
		if resp.StatusCode != http.StatusNoContent || up.n != int64(len(body)) || !bytes.Equal(up.got, want[:]) || up.length != int64(len(body)) {
			t.Fatalf("got %d, the handler read %d bytes (Content-Length %d); want 204 and %d bytes", resp.StatusCode, up.n, up.length, len(body))
		}
	})

	t.Run("a chunked PATCH without Content-Length is streamed too", func(t *testing.T) {
		body := bytes.Repeat([]byte("tus!"), 8192)
		req, _ := http.NewRequest(http.MethodPatch, base+"/v1/uploads/abc", io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Authorization", "Bearer good")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		up.mu.Lock()
		defer up.mu.Unlock()
		if resp.StatusCode != http.StatusNoContent || up.n != int64(len(body)) || up.length != -1 {
			t.Fatalf("got %d, the handler read %d bytes (Content-Length %d); want 204 and %d bytes", resp.StatusCode, up.n, up.length, len(body))
		}
	})

	t.Run("a PATCH whose body the handler does not read closes the connection", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPatch, base+"/v1/uploads/conflict", bytes.NewReader(make([]byte, 64<<10)))
		req.Header.Set("Authorization", "Bearer good")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || !resp.Close {
			t.Fatalf("got %d, Connection: close %v; want 409 and the connection closed", resp.StatusCode, resp.Close)
		}
	})

	for _, tc := range []struct {
		name     string
		body     io.Reader
		length   int64
		status   int
		code     string
		closing  bool
		encoding string
	}{
		{"a gzip body is refused by its Content-Length", strings.NewReader("\x1f\x8b not inflated"), 15, 415, "unsupported_media_type", false, "gzip"},
		{"a chunked gzip body is refused", io.MultiReader(strings.NewReader("\x1f\x8b not inflated")), -1, 415, "unsupported_media_type", false, "gzip"},
		{"another route refuses a body over the limit by its Content-Length", strings.NewReader(strings.Repeat("a", 5000)), 5000, 413, "too_large", true, ""},
		{"another route refuses a chunked body over the limit", io.MultiReader(strings.NewReader(strings.Repeat("a", 5000))), -1, 413, "too_large", true, ""},
		{"another route still reads a chunked body within the limit", io.MultiReader(strings.NewReader(`{"login":"a","password":"b"}`)), -1, 401, "unauthorized", false, ""},
		{"another route still reads a body within the limit", strings.NewReader(`{"login":"a","password":"b"}`), 28, 401, "unauthorized", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/auth/login", tc.body)
			req.ContentLength = tc.length
			req.Header.Set("Content-Type", "application/json")
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var doc map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&doc)
			if resp.StatusCode != tc.status || doc["code"] != tc.code || resp.Close != tc.closing {
				t.Fatalf("got %d %v (Connection: close %v); want %d %s", resp.StatusCode, doc, resp.Close, tc.status, tc.code)
			}
		})
	}
}

// Many PATCHes streamed at once, each on its own connection, reach their handlers whole and
// unmixed (run with -race: every body is read from its own connection's stream).
func TestConcurrentUploadBodiesStayApart(t *testing.T) {
	base, up := newStreamingServer(t)
	const uploads = 8
	bodies := make([][]byte, uploads)
	var wg sync.WaitGroup
	errs := make(chan error, uploads)
	for i := range uploads {
		bodies[i] = make([]byte, 128<<10+i*1000)
		rng := rand.NewChaCha8([32]byte{byte(i)})
		_, _ = rng.Read(bodies[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodPatch, base+"/v1/uploads/u"+strconv.Itoa(i), bytes.NewReader(bodies[i]))
			req.Header.Set("Authorization", "Bearer good")
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				errs <- fmt.Errorf("upload %d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for i, b := range bodies {
		want := sha256.Sum256(b)
		if got := up.byPath["/v1/uploads/u"+strconv.Itoa(i)]; !bytes.Equal(got, want[:]) {
			t.Errorf("upload %d: the handler read other bytes than were sent", i)
		}
	}
}

// A body's buffer grows with what arrives, not with what the Content-Length announces: a
// request that announced 8 MiB and sent 12 KiB made the server allocate 8 MiB (before any
// authentication) and hold it until its read timeout. The answer names no address of ours.
func TestABodysBufferIsNotSizedByItsContentLength(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.ImportLimit, cfg.ReadTimeout = 16<<20, time.Second
	s := New(Deps{Config: cfg, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Sessions: fakeSessions{},
		JWKS: func() ([]byte, error) { return []byte(`{"keys":[]}`), nil }, OpenAPI: []byte("openapi: 3.1.0\n")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			// More than fasthttp reads ahead (8 KiB), so that the handler chain runs.
			fmt.Fprintf(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 8<<20, strings.Repeat(" ", 12<<10))
			// The rest never comes: the read timeout ends the request.
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			answer, _ := io.ReadAll(conn)
			if !bytes.HasPrefix(answer, []byte("HTTP/1.1 4")) || bytes.Contains(answer, []byte("127.0.0.1")) {
				t.Errorf("answer %q", answer)
			}
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("four 12 KiB bodies that announced 8 MiB each allocated %d MiB", grew>>20)
	}

	// A client too slow for the read timeout is told so (408), not that we are down: it was a
	// 503 "unavailable" with Retry-After, logged as a dependency failure.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(answer, []byte("HTTP/1.1 408")) || !bytes.Contains(answer, []byte(`"code":"request_timeout"`)) {
		t.Fatalf("a request too slow for the read timeout: %q", answer)
	}
}
