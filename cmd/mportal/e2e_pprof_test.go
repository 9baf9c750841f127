package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofOnlyOnItsLoopbackListener: MPORTAL_PPROF_ADDR serves Go's profiles for profiling the
// binary under load (issue #14 B); neither the API port nor the metrics listener serves them, and
// without the variable nothing does.
func TestPprofOnlyOnItsLoopbackListener(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_PPROF_ADDR": "127.0.0.1:0", "MPORTAL_METRICS_ADDR": "127.0.0.1:0"}))
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	t.Run("the profiling listener serves the profiles", func(t *testing.T) {
		status, body := get(t, "http://"+ts.main.PprofAddr()+"/debug/pprof/")
		if status != 200 || !strings.Contains(body, "goroutine") {
			t.Fatalf("status %d:\n%.300s", status, body)
		}
		if status, _ := get(t, "http://"+ts.main.PprofAddr()+"/debug/pprof/heap"); status != 200 {
			t.Fatalf("heap profile: status %d", status)
		}
	})
	t.Run("the API port and the metrics listener do not", func(t *testing.T) {
		for _, addr := range []string{ts.main.Addr(), ts.main.MetricsAddr()} {
			if status, body := get(t, "http://"+addr+"/debug/pprof/"); status != 404 {
				t.Fatalf("%s: status %d:\n%.300s", addr, status, body)
			}
		}
	})
	t.Run("without MPORTAL_PPROF_ADDR there is no profiling listener", func(t *testing.T) {
		off := startServer(t, testEnv(t, nil))
		if addr := off.main.PprofAddr(); addr != "" {
			t.Fatalf("profiling listener on %s", addr)
		}
	})
}
