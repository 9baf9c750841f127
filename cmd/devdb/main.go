// Command devdb runs mportal's embedded FerretDB (SQLite) as a process of its own, on a loopback
// address, for `make test`: one database server, built without -race, shared by every test package
// (each test uses a fresh database in it). It prints the URI on stdout and runs until stopped.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mportal/mportal/internal/mongodb/embedded"
)

func main() {
	dir := flag.String("dir", "", "directory for the SQLite files (required)")
	addr := flag.String("addr", "127.0.0.1:0", "loopback host:port to listen on")
	flag.Parse()
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
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Stop()
}
