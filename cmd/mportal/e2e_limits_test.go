package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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
