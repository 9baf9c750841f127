// Command mportal is the mobile portal backend: one binary that serves the API and administers
// the directory.
//
//	mportal [serve]             run the server (the default)
//	mportal user add ...        create a user and print a one-time password
//	mportal user import F.csv   import users from a CSV file
//	mportal config              print the effective configuration, secrets masked
//	mportal version             print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // users' time zones must resolve on minimal images too

	"github.com/mportal/mportal/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "mportal:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage:
  mportal [serve]
  mportal user add -employee-no NO -name NAME [-email E] [-department D] [-roles r1,r2]
  mportal user import FILE.csv
  mportal config
  mportal version
Configuration comes from MPORTAL_* environment variables (see README.md).`

// run dispatches a subcommand. It is main without os.Exit, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "mportal", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, stderr)
	case "config":
		return cfg.WriteMasked(stdout)
	case "user":
		return userCommand(ctx, cfg, args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "mportal: unknown command %q\n%s\n", cmd, usage)
		return errUsage
	}
}

// serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	m := NewMain(cfg, stdout, stderr)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	select {
	case <-ctx.Done():
		return m.Close()
	case <-m.Stopped():
		// Serve returned on its own: the process exits (to be restarted) rather than run its
		// workers on with nobody able to reach it.
		m.Logger.Error("mportal: the HTTP server stopped accepting connections; exiting")
		return errors.Join(errors.New("the HTTP server stopped on its own"), m.Close())
	}
}
