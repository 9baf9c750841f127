// Command devdb runs mportal's embedded FerretDB (SQLite) as a process of its own, on a loopback
// address, for `make test`: one database server, built without -race, shared by every test package
// (each test uses a fresh database in it). It prints the URI on stdout and runs until stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof, on loopback
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mportal/mportal/internal/mongodb/embedded"
)

func main() {
	dir := flag.String("dir", "", "directory for the SQLite files (required)")
	addr := flag.String("addr", "127.0.0.1:0", "loopback host:port to listen on")
	idIndexes := flag.Duration("id-indexes", 0, "every this often, add mportal's _id expression index (embedded.EnsureIDIndexes) to the collections of every database that lack it, as mportal does at start on its embedded database (0: never)")
	pprof := flag.String("pprof", os.Getenv("DEVDB_PPROF_ADDR"), "loopback host:port serving Go's profiles of the database (default $DEVDB_PPROF_ADDR; off when empty), to see what a slow load costs it")
	flag.Parse()
	if *pprof != "" {
		go func() {
			if err := http.ListenAndServe(*pprof, nil); err != nil {
				fmt.Fprintln(os.Stderr, "devdb: pprof:", err)
			}
		}()
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "devdb: -dir is required")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := embedded.Start(*dir, *addr, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devdb:", err)
		os.Exit(1)
	}
	fmt.Println(srv.URI())
	stop := make(chan struct{})
	if *idIndexes > 0 {
		go ensureIDIndexes(srv, *dir, *idIndexes, stop)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	close(stop)
	srv.Stop()
}

// ensureIDIndexes adds the _id expression index to every database under dir every interval
// until stop closes. mportal adds it at start to the embedded database it runs itself; the
// instances of the fault rig reach this process by URI and cannot, and without the index every
// lookup by _id scans its table (see embedded.EnsureIDIndexes), which a fan-out's tens of
// thousands of users, devices and inbox items turn into a database that answers nothing else.
func ensureIDIndexes(srv *embedded.Server, dir string, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".sqlite")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := srv.EnsureIDIndexes(ctx, name); err != nil {
				fmt.Fprintln(os.Stderr, "devdb: _id indexes:", err)
			}
			cancel()
		}
	}
}
