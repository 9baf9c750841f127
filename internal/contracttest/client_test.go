package contracttest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// roundTripperFunc lets a test stand in for the network.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientKeepsTheExchangeIntact(t *testing.T) {
	t.Run("sends the request body unchanged", func(t *testing.T) {
		srv, last := fakeServer(t, reply{contentType: "application/problem+json", status: 401, body: problemJSON})
		rec := &recorder{TB: t}
		resp, err := Load(t).Client(rec, nil).Post(srv.URL+"/v1/auth/login", "application/json", strings.NewReader(loginJSON))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if body, _ := last(); body != loginJSON {
			t.Fatalf("server received %q, want %q", body, loginJSON)
		}
	})
	t.Run("does not add defaults to the query", func(t *testing.T) {
		srv, last := fakeServer(t, reply{contentType: "application/json", body: `{"items":[],"next_cursor":null}`})
		resp, err := Load(t).Client(t, nil).Get(srv.URL + "/v1/admin/users?role=admin")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if _, query := last(); query != "role=admin" {
			t.Fatalf("server received query %q, want role=admin", query)
		}
	})
	t.Run("hands the whole response body back", func(t *testing.T) {
		srv, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
		resp, err := Load(t).Client(t, nil).Get(srv.URL + "/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil || string(got) != userJSON {
			t.Fatalf("body = %q, %v; want the server's body", got, err)
		}
	})
}

func TestClientChecksWhatNetHTTPCannotSend(t *testing.T) {
	// net/http servers drop the body of a 204, so a fake transport plays the server.
	t.Run("reports a body on a 204", func(t *testing.T) {
		base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusNoContent, Status: "204 No Content", Request: r,
				Header: http.Header{"X-Request-Id": {"req-1"}, "Content-Type": {"application/json"}},
				Body:   io.NopCloser(strings.NewReader(`{}`)),
			}, nil
		})
		rec := &recorder{TB: t}
		req, _ := http.NewRequest(http.MethodPost, "http://api.test/v1/auth/logout", nil)
		resp, err := Load(t).Client(rec, base).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := rec.reported(); !strings.Contains(got, "documents no body for status 204") {
			t.Fatalf("report = %q, want the stray body reported", got)
		}
	})
	t.Run("reports request mismatches when the transport fails", func(t *testing.T) {
		base := roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })
		rec := &recorder{TB: t}
		req, _ := http.NewRequest(http.MethodPost, "http://api.test/v1/auth/login", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("Content-Type", "application/json")
		if _, err := Load(t).Client(rec, base).Do(req); err == nil {
			t.Fatal("Do succeeded, want the transport's error")
		}
		if got := rec.reported(); !strings.Contains(got, "-> no response") || !strings.Contains(got, `"login" is missing`) {
			t.Fatalf("report = %q, want the request's mismatches", got)
		}
	})
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	srv, _ := fakeServer(t, reply{contentType: "application/json", body: userJSON})
	rec := &recorder{TB: t}
	client := Load(t).Client(rec, nil)
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			path := "/v1/me"
			if i%2 == 1 {
				path = "/v1/unknown" // every other request is off the contract
			}
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	if got := strings.Count(rec.reported(), "contract violation: GET /v1/unknown"); got != n/2 {
		t.Fatalf("%d violations reported, want %d:\n%s", got, n/2, rec.reported())
	}
}
