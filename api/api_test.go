package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/testenv"
)

// fakeSessions authenticates the token "good" as an employee and "pending" as a user who must
// still change a one-time password.
type fakeSessions struct{ Sessions }

func (f fakeSessions) AuthenticateAt(ctx context.Context, token string, _ time.Time) (*auth.Principal, error) {
	return f.Authenticate(ctx, token)
}

func (fakeSessions) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	switch token {
	case "good":
		return &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleEmployee}}, nil
	case "pending":
		return &auth.Principal{UserID: "u2", Roles: []auth.Role{auth.RoleAdmin}, PasswordChangeRequired: true}, nil
	}
	return nil, apperr.New(apperr.Unauthorized, "invalid or expired access token")
}

func (fakeSessions) Login(_ context.Context, in auth.LoginInput) (*auth.TokenPair, error) {
	return nil, apperr.New(apperr.Unauthorized, "invalid login or password")
}

type syncBuffer = testenv.LogBuffer

func newTestServer(t *testing.T, ready map[string]Checker) (*Server, *syncBuffer) {
	t.Helper()
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.BodyLimit = 1024
	cfg.ImportLimit = 4096
	logs := &syncBuffer{}
	s := New(Deps{
		Config:   cfg,
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
		Sessions: fakeSessions{},
		JWKS:     func() ([]byte, error) { return []byte(`{"keys":[]}`), nil },
		OpenAPI:  []byte("openapi: 3.1.0\n"),
		Ready:    ready,
	})
	return s, logs
}

func do(t *testing.T, s *Server, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	return resp, doc
}

func TestProblemResponses(t *testing.T) {
	s, _ := newTestServer(t, nil)
	login := func(body, contentType string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/v1/auth/login", strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		return r
	}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"malformed JSON is 400 invalid_json", login(`{"login":`, "application/json"), 400, "invalid_json"},
		{"a wrongly typed field is 400 invalid_json", login(`{"login":42}`, "application/json"), 400, "invalid_json"},
		{"an empty body is 400 invalid_json", login(``, "application/json"), 400, "invalid_json"},
		{"trailing data is 400 invalid_json", login(`{} {}`, "application/json"), 400, "invalid_json"},
		{"a wrong content type is 415", login(`{}`, "text/plain"), 415, "unsupported_media_type"},
		{"a missing content type is 415", login(`{}`, ""), 415, "unsupported_media_type"},
		{"a body over the JSON limit is 413", login(`{"login":"`+strings.Repeat("a", 2000)+`"}`, "application/json"), 413, "too_large"},
		{"an unknown route is a 404 problem", httptest.NewRequest(http.MethodGet, "/v1/nope", nil), 404, "not_found"},
		{"an unknown route outside v1 is a 404 problem", httptest.NewRequest(http.MethodGet, "/wp-admin", nil), 404, "not_found"},
		{"a missing token is 401", httptest.NewRequest(http.MethodGet, "/v1/devices", nil), 401, "unauthorized"},
		{"bad credentials are 401", login(`{"login":"a","password":"b","device_id":"d"}`, "application/json"), 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, doc := do(t, s, tc.req)
			if resp.StatusCode != tc.status || doc["code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, doc, tc.status, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if doc["type"] != "urn:mportal:problem:"+tc.code || doc["status"] != float64(tc.status) || doc["instance"] == "" || doc["title"] == "" {
				t.Fatalf("incomplete problem document %v", doc)
			}
			if doc["request_id"] != resp.Header.Get("X-Request-ID") {
				t.Fatalf("problem request_id %v != header %q", doc["request_id"], resp.Header.Get("X-Request-ID"))
			}
		})
	}
	t.Run("an unknown field is 400 invalid naming the field", func(t *testing.T) {
		resp, doc := do(t, s, login(`{"login":"a","password":"b","device_id":"d","remember_me":true}`, "application/json"))
		if resp.StatusCode != 400 || doc["code"] != "invalid" || doc["field"] != "remember_me" {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
	t.Run("an error answer to HEAD names no body type", func(t *testing.T) {
		resp, _ := do(t, s, httptest.NewRequest(http.MethodHead, "/v1/devices", nil))
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "" || resp.Header.Get("X-Request-ID") == "" {
			t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("a compressed body is refused, not inflated", func(t *testing.T) {
		r := login(`{}`, "application/json")
		r.Header.Set("Content-Encoding", "gzip")
		resp, doc := do(t, s, r)
		if resp.StatusCode != 415 || doc["code"] != "unsupported_media_type" {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
	t.Run("a request without a body is not refused for its Content-Encoding", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Header.Set("Content-Encoding", "gzip")
		if resp, doc := do(t, s, r); resp.StatusCode != 200 {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
	t.Run("a pending one-time password only opens the password routes", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/v1/devices", nil)
		r.Header.Set("Authorization", "Bearer pending")
		resp, doc := do(t, s, r)
		if resp.StatusCode != 403 || doc["code"] != "password_change_required" {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
	t.Run("an employee cannot reach admin routes", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/v1/admin/users", nil)
		r.Header.Set("Authorization", "Bearer good")
		resp, doc := do(t, s, r)
		if resp.StatusCode != 403 || doc["code"] != "forbidden" {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
}

func TestRequestID(t *testing.T) {
	s, logs := newTestServer(t, nil)
	t.Run("echoes a sane client id", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Header.Set("X-Request-ID", "abc-123")
		resp, _ := do(t, s, r)
		if got := resp.Header.Get("X-Request-ID"); got != "abc-123" {
			t.Fatalf("X-Request-ID = %q", got)
		}
		if !strings.Contains(logs.String(), `"request_id":"abc-123"`) {
			t.Fatalf("access log lacks the request id: %s", logs.String())
		}
	})
	t.Run("replaces an id that could inject into logs", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Header.Set("X-Request-ID", "evil\"}\n{\"admin\":true")
		resp, _ := do(t, s, r)
		if got := resp.Header.Get("X-Request-ID"); len(got) != requestIDLen {
			t.Fatalf("X-Request-ID = %q, want a generated id", got)
		}
	})
	t.Run("an error carries the id it was logged with", func(t *testing.T) {
		resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/v1/no-such-route", nil))
		id := resp.Header.Get("X-Request-ID")
		if resp.StatusCode != http.StatusNotFound || len(id) != requestIDLen {
			t.Fatalf("got %d, X-Request-ID %q", resp.StatusCode, id)
		}
		if doc["request_id"] != id {
			t.Fatalf("problem request_id = %v, header %q", doc["request_id"], id)
		}
		if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
			t.Fatalf("access log lacks the request id %s: %s", id, logs.String())
		}
	})
	t.Run("generated ids differ", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 100; i++ {
			resp, _ := do(t, s, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			id := resp.Header.Get("X-Request-ID")
			if len(id) != requestIDLen || seen[id] {
				t.Fatalf("generated id %q (seen before: %v)", id, seen[id])
			}
			seen[id] = true
		}
	})
}

// TestRequestIDsOfOneConnectionDiffer: ids are made of the connection's id and the request's
// number on it, so two requests of one kept-alive connection, or the same number on two
// connections, never share one.
func TestRequestIDsOfOneConnectionDiffer(t *testing.T) {
	seen := map[string]bool{}
	for _, cn := range [][2]uint64{{1, 1}, {1, 2}, {2, 1}, {0x1234, 5}, {5, 0x1234}, {0xffff_ffff, 0xffff_ffff}} {
		id := string(appendRequestID(nil, cn[0], cn[1]))
		if len(id) != requestIDLen || !validRequestID.MatchString(id) || seen[id] {
			t.Fatalf("conn %d request %d: id %q (seen before: %v)", cn[0], cn[1], id, seen[id])
		}
		seen[id] = true
	}
}

func TestPanicBecomesLogged500(t *testing.T) {
	s, logs := newTestServer(t, nil)
	s.App().Get("/boom", func(c *fiber.Ctx) error { panic("secret-internal-detail") })
	resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if resp.StatusCode != 500 || doc["code"] != "internal" {
		t.Fatalf("got %d %v", resp.StatusCode, doc)
	}
	if strings.Contains(doc["detail"].(string), "secret-internal-detail") {
		t.Fatal("panic text leaked to the client")
	}
	if !strings.Contains(logs.String(), "secret-internal-detail") || !strings.Contains(logs.String(), "panic in handler") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
	// The server keeps serving.
	if resp, _ := do(t, s, httptest.NewRequest(http.MethodGet, "/healthz", nil)); resp.StatusCode != 200 {
		t.Fatalf("after panic: %d", resp.StatusCode)
	}
}

func TestUnknownErrorsStayGeneric(t *testing.T) {
	s, logs := newTestServer(t, nil)
	s.App().Get("/driver", func(c *fiber.Ctx) error {
		return errors.New("(BadValue) connection to 10.0.0.5 refused: password=hunter2")
	})
	resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/driver", nil))
	if resp.StatusCode != 500 || strings.Contains(doc["detail"].(string), "10.0.0.5") {
		t.Fatalf("got %d %v", resp.StatusCode, doc)
	}
	if !strings.Contains(logs.String(), "10.0.0.5") {
		t.Fatal("the real error was not logged for operators")
	}
}

func TestReadyz(t *testing.T) {
	t.Run("is 200 when every dependency answers", func(t *testing.T) {
		s, _ := newTestServer(t, map[string]Checker{"mongodb": func(context.Context) error { return nil }})
		resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if resp.StatusCode != 200 || doc["status"] != "ready" {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
	t.Run("is 503 when one is down", func(t *testing.T) {
		s, _ := newTestServer(t, map[string]Checker{
			"mongodb": func(context.Context) error { return nil },
			"minio":   func(context.Context) error { return errors.New("dial tcp: refused") },
		})
		resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if resp.StatusCode != 503 || doc["code"] != "unavailable" || !strings.Contains(doc["detail"].(string), "minio") {
			t.Fatalf("got %d %v", resp.StatusCode, doc)
		}
	})
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Sessions: fakeSessions{}, Registry: reg})
	for _, id := range []string{"some-device-id", "another-device-id"} {
		r := httptest.NewRequest(http.MethodDelete, "/v1/devices/"+id, nil)
		r.Header.Set("Authorization", "Bearer nope")
		do(t, s, r)
	}
	for _, m := range []string{http.MethodGet, http.MethodGet, http.MethodPost} {
		do(t, s, httptest.NewRequest(m, "/v1/no-such-thing/some-device-id", nil))
	}
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`mportal_http_requests_total{method="DELETE",route="/v1/devices/:device_id",status="401"} 2`,
		`mportal_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`mportal_http_requests_total{method="POST",route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("metrics lack %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "some-device-id") {
		t.Fatal("a raw path leaked into metric labels")
	}
	if !strings.Contains(text, "mportal_http_request_duration_seconds_bucket") {
		t.Fatal("no latency histogram")
	}
	t.Run("the matched route was in the table they were preloaded with", func(t *testing.T) {
		s.metrics.routes.Range(func(k, _ any) bool {
			t.Errorf("route %+v was not preloaded", k)
			return true
		})
	})
	t.Run("the API app does not serve them", func(t *testing.T) {
		resp, doc := do(t, s, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if resp.StatusCode != 404 || doc["code"] != "not_found" {
			t.Fatalf("GET /metrics on the API: %d %v", resp.StatusCode, doc)
		}
	})
}

// TestOverlongRequestLine goes through a real listener: fasthttp rejects the request before
// Fiber's app.Test could see a response.
func TestOverlongRequestLine(t *testing.T) {
	s, logs := newTestServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		<-served
	})
	get := func(t *testing.T, path string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		return resp, doc
	}
	long := "/v1/sync/pull?cursor=" + strings.Repeat("a", s.deps.Config.HeaderLimit)
	resp, doc := get(t, long)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || doc["code"] != "headers_too_large" {
		t.Fatalf("got %d %v, want 431 headers_too_large", resp.StatusCode, doc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("a client's long request was logged as a server error:\n%s", logs.String())
	}
	t.Run("a request line just under the limit is served", func(t *testing.T) {
		ok := "/v1/openapi.yaml?pad=" + strings.Repeat("a", s.deps.Config.HeaderLimit-512)
		if resp, _ := get(t, ok); resp.StatusCode != 200 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	s, _ := newTestServer(t, nil)
	entered := make(chan struct{})
	s.App().Get("/slow", func(c *fiber.Ctx) error {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		return c.SendString("finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- result{body: string(b)}
	}()
	select {
	case <-entered:
	case r := <-done:
		t.Fatalf("the slow handler never ran: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-done
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: body %q err %v", r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("new connections are still accepted after shutdown")
	}
}

// Bodies over the server-wide limit are refused by the frame middleware (limitBody) before any
// route runs; they get a problem document with a request id. Bodies are streamed, so use a
// listener.
func TestBodyOverServerLimitIs413Problem(t *testing.T) {
	s, _ := newTestServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown(context.Background())
	body := `{"login":"` + strings.Repeat("a", 5000) + `"}`
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	if resp.StatusCode != 413 || doc["code"] != "too_large" || doc["request_id"] == "" || resp.Header.Get("X-Request-ID") == "" {
		t.Fatalf("got %d %v (X-Request-ID %q)", resp.StatusCode, doc, resp.Header.Get("X-Request-ID"))
	}
}

func TestCORSAllowList(t *testing.T) {
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "MPORTAL_CORS_ORIGINS" {
			return "https://portal.example.com", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Deps{Config: cfg, Logger: slog.New(slog.DiscardHandler), Sessions: fakeSessions{}})
	preflight := func(origin string) *http.Response {
		r := httptest.NewRequest(http.MethodOptions, "/v1/auth/login", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := s.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	t.Run("allows a listed origin", func(t *testing.T) {
		if got := preflight("https://portal.example.com").Header.Get("Access-Control-Allow-Origin"); got != "https://portal.example.com" {
			t.Fatalf("Access-Control-Allow-Origin = %q", got)
		}
	})
	t.Run("gives an unlisted origin no CORS headers", func(t *testing.T) {
		if got := preflight("https://evil.example.net").Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin = %q", got)
		}
	})
	t.Run("sends no CORS headers when no origin is configured", func(t *testing.T) {
		s, _ := newTestServer(t, nil)
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Header.Set("Origin", "https://portal.example.com")
		resp, _ := do(t, s, r)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Fatalf("Access-Control-Allow-Origin = %q", got)
		}
	})
}

// A client that sends its request too slowly (slow loris) is cut off after the read timeout.
func TestReadTimeoutCutsOffSlowClients(t *testing.T) {
	s, _ := newTestServer(t, nil)
	s.deps.Config.ReadTimeout = 200 * time.Millisecond
	s = New(s.deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown(context.Background())
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers never end
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept the half-sent request open past its read timeout")
			}
			return // closed by the server (EOF or reset): cut off as intended
		}
	}
}
