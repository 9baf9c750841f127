package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperServe is not a test: TestSignalStopsTheServer re-executes the test binary to run
// main() for real in a child process.
func TestHelperServe(t *testing.T) {
	if os.Getenv("MPORTAL_TEST_HELPER_SERVE") != "1" {
		return
	}
	os.Args = []string{os.Args[0], "serve"}
	main()
}

// TestSignalStopsTheServer sends SIGTERM to a real mportal process: it stops accepting, shuts
// down in order, and exits 0.
func TestSignalStopsTheServer(t *testing.T) {
	env := testEnv(t, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), "MPORTAL_TEST_HELPER_SERVE=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan map[string]any, 100)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			var rec map[string]any
			if json.Unmarshal(s.Bytes(), &rec) == nil {
				lines <- rec
			}
		}
		close(lines)
	}()
	waitFor := func(msg string) map[string]any {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case rec, ok := <-lines:
				if !ok {
					t.Fatalf("the server exited before logging %q", msg)
				}
				if rec["msg"] == msg {
					return rec
				}
			case <-deadline:
				t.Fatalf("no %q log line", msg)
			}
		}
	}
	addr := waitFor("mportal started")["addr"].(string)
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("not listening on %s: %v", addr, err)
	} else {
		c.Close()
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor("mportal stopped")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit after SIGTERM")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("still accepting connections after exit")
	}
}

// TestKeyRotation follows the documented rotation: add the new key first and keep the old one, so
// tokens signed before keep working until they expire; then drop the old key.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := writeKey(t, dir, "old.pem"), writeKey(t, dir, "new.pem")
	env := testEnv(t, map[string]string{"MPORTAL_JWT_KEY_FILES": oldKey})

	ts := startServer(t, env)
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1")
	oldKID := kidOf(t, admin.AccessToken)
	ts.stop()

	env["MPORTAL_JWT_KEY_FILES"] = newKey + "," + oldKey
	ts = startServer(t, env)
	ts.must(ts.call("GET", "/v1/me", admin.AccessToken, nil), 200)
	fresh := ts.login("admin", "admin-passphrase-1", "laptop-1")
	if kid := kidOf(t, fresh.AccessToken); kid == oldKID {
		t.Fatal("new tokens are still signed with the old key")
	}
	var set struct{ Keys []struct{ Kid string } }
	ts.must(ts.call("GET", "/v1/.well-known/jwks.json", "", nil), 200).json(t, &set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS during rotation has %d keys, want both", len(set.Keys))
	}
	ts.stop()

	env["MPORTAL_JWT_KEY_FILES"] = newKey
	ts = startServer(t, env)
	ts.must(ts.call("GET", "/v1/me", admin.AccessToken, nil), 401)
	ts.must(ts.call("GET", "/v1/me", fresh.AccessToken, nil), 200)
}

func writeKey(t *testing.T, dir, name string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	var h struct{ Kid string }
	seg, _, _ := strings.Cut(token, ".")
	data, err := decodeSegment(seg)
	if err != nil || json.Unmarshal(data, &h) != nil || h.Kid == "" {
		t.Fatalf("no kid in %q", seg)
	}
	return h.Kid
}

func decodeSegment(s string) ([]byte, error) { return base64URL.DecodeString(s) }

var base64URL = base64.RawURLEncoding

// TestShutdownClosesConnectionsWaitingForARequest: a shutdown closes the connections that wait
// for a request, kept-alive ones and ones that never sent one (an HTTP client dials ahead, and
// keeps a connection it dialed for a request another connection took), then returns. fasthttp
// 1.51 counted a new connection as busy before its first byte, so such a connection held the
// shutdown until the read timeout cut it (30 s here, in every test that left one).
func TestShutdownClosesConnectionsWaitingForARequest(t *testing.T) {
	// Timeouts longer than the shutdown's grace: only the shutdown can close the connections.
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_READ_TIMEOUT": "5m", "MPORTAL_IDLE_TIMEOUT": "5m",
		"MPORTAL_SHUTDOWN_TIMEOUT": "20s"}))
	silent, err := net.Dial("tcp", ts.main.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	kept, err := net.Dial("tcp", ts.main.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	r := bufio.NewReader(kept)
	if _, err := kept.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	err = ts.main.Close()
	ts.main = nil
	if err != nil {
		t.Fatalf("close: %v (a connection waiting for a request held the shutdown to its grace)", err)
	}
	for name, c := range map[string]net.Conn{"the silent connection": silent, "the kept-alive connection": kept} {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s is still open after the shutdown (read %d bytes, %v)", name, n, err)
		}
	}
}

// TestAServerThatStopsServingIsNoticed: when Serve returns on its own (an accept error fasthttp
// does not retry, such as running out of file descriptors), Stopped says so and the process
// exits. Before, nothing watched it: the process ran on, its workers busy, unreachable.
func TestAServerThatStopsServingIsNoticed(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	select {
	case <-ts.main.Stopped():
		t.Fatal("stopped before anything happened")
	default:
	}
	_ = ts.main.listener.Close() // what a fatal accept error does to Serve
	select {
	case <-ts.main.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("Stopped was not closed after Serve returned")
	}
}
