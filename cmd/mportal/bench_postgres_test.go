package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// startPostgreSQL creates and starts a PostgreSQL cluster in a temporary directory, listening
// on a loopback port, and returns the URL of its "postgres" database; the cluster is stopped
// and removed when the benchmark ends. Its binaries are MPORTAL_TEST_PG_BIN's, else Debian's
// PostgreSQL 15. As root (PostgreSQL refuses to run as root) it runs them as the user
// "postgres". A missing PostgreSQL fails the benchmark.
func startPostgreSQL(b *testing.B) string {
	b.Helper()
	bin := os.Getenv("MPORTAL_TEST_PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		b.Fatalf("PostgreSQL is needed (set MPORTAL_TEST_PG_BIN to its bin directory): %v", err)
	}
	dir, err := os.MkdirTemp("", "mportal-pg-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	run := func(name string, args ...string) *exec.Cmd {
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			b.Fatalf("running as root needs a postgres user to run PostgreSQL as: %v", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			b.Fatal(err)
		}
		run = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		b.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freeLoopbackPort(b)
	// synchronous_commit=off: a commit does not wait for its WAL flush, the closest to the
	// SQLite backend's synchronous=NORMAL (and so the most favourable setting for PostgreSQL).
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c synchronous_commit=off", port, dir)
	if out, err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		b.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	b.Cleanup(func() {
		if out, err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			b.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", port)
}

func freeLoopbackPort(b *testing.B) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
