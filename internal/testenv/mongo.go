package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/mongodb"
)

// MongoURIEnv names the variable through which `make test` shares one database server.
const MongoURIEnv = "MPORTAL_TEST_MONGODB_URI"

var devDB = &component{env: MongoURIEnv, what: "embedded FerretDB", start: startDevDB}

// MongoURI returns the URI of the test database server, starting bin/devdb (the embedded
// FerretDB) for this test binary if `make test` did not share one.
func MongoURI(tb testing.TB) string {
	tb.Helper()
	return devDB.get(tb)
}

// startDevDB builds bin/devdb (without -race; cached by the go command, so cheap when nothing
// changed, and never stale) and runs it.
func startDevDB(root string) (string, error) {
	bin := filepath.Join(root, "bin", "devdb")
	tmp := bin + ".tmp" + RandomName("")
	build := exec.Command("go", "build", "-o", tmp, "./cmd/devdb")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", &buildError{what: "bin/devdb", out: string(out), err: err}
	}
	if err := os.Rename(tmp, bin); err != nil { // atomic: packages may build it at the same time
		return "", err
	}
	dir, err := os.MkdirTemp("", "mportal-devdb-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "-dir", dir, "-addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	uri, err := firstLine(cmd, 30*time.Second)
	if err != nil {
		return "", err
	}
	track(&process{cmd: cmd, dir: dir})
	return uri, nil
}

type buildError struct {
	what, out string
	err       error
}

func (e *buildError) Error() string { return "build " + e.what + ": " + e.err.Error() + "\n" + e.out }

// Mongo returns a connection to a fresh, empty database that is dropped when the test ends.
// The connection is marked Embedded, as the test server is always the embedded FerretDB.
func Mongo(tb testing.TB) *mongodb.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongodb.Open(ctx, MongoURI(tb), RandomName("t_"), true)
	if err != nil {
		tb.Fatalf("testenv: connect to test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
		_ = db.Close(ctx)
	})
	return db
}
