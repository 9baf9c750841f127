// Package testenv gives tests real components: a MongoDB-compatible database (the embedded
// FerretDB, run as the bin/devdb process) and a real MinIO server (bin/minio).
//
// `make test` starts one of each for all packages and passes their addresses in
// MPORTAL_TEST_MONGODB_URI and MPORTAL_TEST_MINIO_ENDPOINT; a package run alone (go test ./x)
// starts its own, once per test binary. Each test gets a fresh database and fresh buckets, so
// tests never see each other's data. A component that cannot be started fails the test: nothing
// here ever skips.
package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RepoRoot returns the directory holding the main go.mod.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/mportal/mportal\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testenv: cannot find the mportal repository root above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a free loopback TCP port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	p, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RandomName returns prefix followed by 12 random hex characters.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// component is a server that tests share: the one `make test` passes in env, or one started
// once for this test binary.
type component struct {
	env, what string
	start     func(root string) (string, error)
	once      sync.Once
	addr      string
	err       error
}

// get returns the component's address, starting it on first use; failing to start fails the test.
func (c *component) get(tb testing.TB) string {
	tb.Helper()
	c.once.Do(func() {
		if addr := os.Getenv(c.env); addr != "" {
			c.addr = addr
			return
		}
		c.addr, c.err = c.start(RepoRoot(tb))
	})
	if c.err != nil {
		tb.Fatalf("testenv: %s: %v", c.what, c.err)
	}
	return c.addr
}

// process is a component started by this test binary and stopped when it exits (see Main).
type process struct {
	cmd *exec.Cmd
	dir string
}

var (
	procMu sync.Mutex
	procs  []*process
)

func track(p *process) {
	procMu.Lock()
	defer procMu.Unlock()
	procs = append(procs, p)
}

// Main runs the package's tests and stops whatever components they started. Use it as
// `func TestMain(m *testing.M) { testenv.Main(m) }` in every package that uses testenv.
func Main(m interface{ Run() int }) {
	code := m.Run()
	procMu.Lock()
	for _, p := range procs {
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
		if p.dir != "" {
			_ = os.RemoveAll(p.dir)
		}
	}
	procMu.Unlock()
	os.Exit(code)
}

// firstLine starts cmd and returns the first line it prints on stdout, within timeout.
func firstLine(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		for s.Scan() { // keep draining so the child never blocks on a full pipe
		}
	}()
	select {
	case l, ok := <-line:
		if !ok {
			return "", fmt.Errorf("%s exited without printing its address", cmd.Path)
		}
		return l, nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("%s printed nothing within %s", cmd.Path, timeout)
	}
}
