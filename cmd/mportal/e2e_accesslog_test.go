package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
)

// TestAccessLogToAFile runs Main as it is deployed, with stderr a file: the lines then go
// through the buffered writer (internal/logbuf) and the API's hand-encoded access log. Every
// request has its line, valid JSON, once Close returns; the query string never reaches it.
func TestAccessLogToAFile(t *testing.T) {
	env := testEnv(t, map[string]string{"MPORTAL_LOG_LEVEL": "info"})
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stderr")
	stderr, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	m := NewMain(cfg, &syncBuffer{}, stderr)
	m.Argon = &auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	const n = 300
	for i := 0; i < n; i++ {
		resp, err := http.Get("http://" + m.Addr() + "/healthz?token=query-secret")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A playback token in the path plays the video without a login: it is not logged either.
	// Nor in a playback URL that no route matches (a segment too many).
	for _, p := range []string{"/v1/training/play/v1/path-secret-token/master.m3u8", "/v1/training/play/v1/path-secret-token/hd/master.m3u8"} {
		resp, err := http.Get("http://" + m.Addr() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("query-secret")) {
		t.Error("the query string reached the log")
	}
	if bytes.Contains(data, []byte("path-secret-token")) || !bytes.Contains(data, []byte(`/v1/training/play/v1/[token]/master.m3u8`)) {
		t.Error("the playback token reached the log, or the request was not logged")
	}
	lines, stopped := 0, false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var line struct {
			Msg, Route, Path, Level, RequestID, IP string
			Status                                 int
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %v: %s", err, sc.Bytes())
		}
		if line.Msg == "mportal stopped" {
			stopped = true
		}
		if line.Msg == "request" && line.IP != "127.0.0.1" {
			t.Fatalf("the access line names %q, not the peer 127.0.0.1: %s", line.IP, sc.Bytes())
		}
		if line.Msg == "request" && line.Route == "/healthz" && line.Path == "/healthz" && line.Status == 200 && line.Level == "INFO" {
			lines++
		}
	}
	if lines != n || !stopped {
		t.Fatalf("%d access log lines for /healthz, want %d; stop line written: %v", lines, n, stopped)
	}
}
