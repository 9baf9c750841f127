package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOverlongRequestIsAClientError: a request line over MPORTAL_HEADER_LIMIT (a huge cursor)
// answers 431 with a problem document and is not logged as a server error. It goes around the
// contract client: a 431 is the HTTP server's answer before any operation is matched.
func TestOverlongRequestIsAClientError(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	for name, path := range map[string]string{
		"a long cursor": "/v1/sync/pull?cursor=" + strings.Repeat("c", 9000),
		"a long locale": "/v1/apps/com.example.portal/update?locale=" + strings.Repeat("z", 9000),
		"a long id":     "/v1/uploads/" + strings.Repeat("u", 9000),
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Get(ts.base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct {
				Code      string `json:"code"`
				RequestID string `json:"request_id"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || p.Code != "headers_too_large" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || p.RequestID == "" {
				t.Fatalf("got %d %+v %v", resp.StatusCode, p, resp.Header)
			}
		})
	}
	if strings.Contains(ts.logs.String(), `"level":"ERROR"`) {
		t.Fatalf("client mistakes were logged as errors:\n%s", ts.logs.String())
	}
	t.Run("the limit is a setting", func(t *testing.T) {
		big := startServer(t, testEnv(t, map[string]string{"MPORTAL_HEADER_LIMIT": "32KiB"}))
		resp, err := http.Get(big.base + "/healthz?pad=" + strings.Repeat("p", 9000))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d with a 32KiB limit", resp.StatusCode)
		}
	})
}

// TestATooLargeRequestStillArrivingGetsItsAnswer: the server decides on a 431 once the header
// buffer is full, while the rest of the request is still on its way. It reads that rest before
// it answers and closes: closed with input unread, the socket sent a reset, and the client lost
// the 431 it had not read yet (a "connection reset by peer" in this package's CI runs).
func TestATooLargeRequestStillArrivingGetsItsAnswer(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	c, err := net.Dial("tcp", ts.main.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /v1/sync/pull?cursor=" + strings.Repeat("c", 9000))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server has the first 8 KiB: it answers 431
	if _, err := c.Write([]byte(" HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 4000) + "\r\n\r\n")); err != nil {
		t.Fatalf("the rest of the request: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}
