package contracttest

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps the errors the harness reports instead of failing the
// test, so that tests can assert on them.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// reply is what the fake server answers.
type reply struct {
	status      int
	contentType string
	headers     map[string]string
	body        string
	noRequestID bool
}

// fakeServer answers every request with rep. The returned func reports the body and the raw
// query of the last request the server received.
func fakeServer(t *testing.T, rep reply) (*httptest.Server, func() (body, query string)) {
	t.Helper()
	var mu sync.Mutex
	var body, query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body, query = string(b), r.URL.RawQuery
		mu.Unlock()
		if !rep.noRequestID {
			w.Header().Set("X-Request-ID", "req-1")
		}
		if rep.contentType != "" {
			w.Header().Set("Content-Type", rep.contentType)
		}
		for k, v := range rep.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(cmp.Or(rep.status, http.StatusOK))
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() (string, string) {
		mu.Lock()
		defer mu.Unlock()
		return body, query
	}
}

const (
	userJSON = `{"id":"6650a0e1b2c3d4e5f6a7b8c9","employee_no":"E1001","name":"Li Lei","email":"",
		"department":"Engineering","roles":["employee"],"locale":"zh-CN","timezone":"Asia/Shanghai",
		"status":"active","must_change_password":false,"created_at":"2025-03-01T08:00:00Z",
		"updated_at":"2025-03-01T08:00:00.123456Z"}`
	problemJSON = `{"type":"urn:mportal:problem:unauthorized","title":"Unauthorized","status":401,
		"detail":"invalid login or password","code":"unauthorized","instance":"/v1/auth/login","request_id":"req-1"}`
	loginJSON = `{"login":"E1001","password":"secret","device_id":"3f6c1a52-8d0e-4c55-9a7b-2d1e0f4b9c11"}`
)
