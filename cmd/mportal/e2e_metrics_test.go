package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// metrics fetches /metrics from the metrics listener, through the contract-checked client.
func (ts *testServer) metrics() response {
	ts.t.Helper()
	addr := ts.main.MetricsAddr()
	if addr == "" {
		ts.t.Fatal("the server has no metrics listener (set MPORTAL_METRICS_ADDR)")
	}
	resp, err := ts.client.Get("http://" + addr + "/metrics")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// TestMetricsOnlyOnTheMetricsListener: the API port, which phones and the internet reach, does
// not serve metrics; the operators' listener does, and without MPORTAL_METRICS_ADDR nothing does.
func TestMetricsOnlyOnTheMetricsListener(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_METRICS_ADDR": "127.0.0.1:0"}))
	t.Run("the API port answers 404 without credentials", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/metrics", "", nil), 404)
		if r.problemCode() != "not_found" || bytes.Contains(r.body, []byte("go_goroutines")) {
			t.Fatalf("got %s", r.body)
		}
	})
	t.Run("the API port answers 404 with an access token too", func(t *testing.T) {
		ts := ts.with(t)
		admin := ts.login("admin", ts.adminPassword(), "metrics-probe")
		ts.must(ts.call("GET", "/metrics", admin.AccessToken, nil), 404)
	})
	t.Run("the metrics listener serves them", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.metrics(), 200)
		if !bytes.Contains(r.body, []byte("mportal_http_requests_total")) {
			t.Fatalf("no request counter in:\n%.500s", r.body)
		}
	})
	t.Run("the metrics listener serves nothing else", func(t *testing.T) {
		resp, err := http.Get("http://" + ts.main.MetricsAddr() + "/v1/openapi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("without MPORTAL_METRICS_ADDR there is no metrics listener", func(t *testing.T) {
		off := startServer(t, testEnv(t, nil))
		if addr := off.main.MetricsAddr(); addr != "" {
			t.Fatalf("metrics listener on %s", addr)
		}
		off.with(t).must(off.call("GET", "/metrics", "", nil), 404)
	})
}
