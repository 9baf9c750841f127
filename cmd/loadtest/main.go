// Command loadtest sends closed-loop HTTP load to a server on this machine and prints requests
// per second and latency percentiles. It only targets loopback addresses.
//
//	go run ./cmd/loadtest -url http://127.0.0.1:8080/v1/me -H 'Authorization: Bearer ...' -c 64 -d 10s
//	go run ./cmd/loadtest -baseline -c 64 -d 10s
//
// -baseline starts a bare Fiber app with one JSON handler in this process and measures it: the
// reference figure mportal's endpoints are compared with.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mportal/mportal/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
		}
		os.Exit(1)
	}
}

// headerFlags collects repeated -H 'Name: value' flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q is not 'Name: value'", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// run is main without os.Exit, for tests. An interrupt (Ctrl-C) ends the run early and still
// prints what was measured.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	headers := headerFlags{}
	var cfg loadtest.Config
	var body, bodyFile string
	var baseline, asJSON bool
	fs.StringVar(&cfg.URL, "url", "", "target URL on 127.0.0.0/8, [::1] or localhost")
	fs.StringVar(&cfg.Method, "X", "GET", "HTTP method")
	fs.Var(headers, "H", "request header 'Name: value' (repeatable)")
	fs.StringVar(&body, "body", "", "request body (Content-Type defaults to application/json)")
	fs.StringVar(&bodyFile, "body-file", "", "read the request body from this file")
	fs.IntVar(&cfg.Concurrency, "c", loadtest.DefaultConcurrency, "concurrent workers, one connection each")
	fs.DurationVar(&cfg.Duration, "d", loadtest.DefaultDuration, "run time (at most "+loadtest.MaxDuration.String()+")")
	fs.Int64Var(&cfg.MaxRequests, "n", 0, "stop after this many requests (0: only -d applies)")
	fs.DurationVar(&cfg.Timeout, "timeout", loadtest.DefaultTimeout, "per-request timeout")
	fs.BoolVar(&baseline, "baseline", false, "measure an in-process bare Fiber JSON handler instead of -url")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	switch {
	case body != "" && bodyFile != "":
		return errors.New("use -body or -body-file, not both")
	case bodyFile != "":
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			return err
		}
		cfg.Body = b
	case body != "":
		cfg.Body = []byte(body)
	}
	if cfg.Body != nil && http.Header(headers).Get("Content-Type") == "" {
		http.Header(headers).Set("Content-Type", "application/json")
	}
	cfg.Headers = http.Header(headers)

	if baseline {
		if cfg.URL != "" {
			return errors.New("-baseline measures its own server: leave out -url")
		}
		b, err := loadtest.StartBaseline()
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.URL = b.URL
		fmt.Fprintf(stdout, "baseline: bare Fiber JSON handler at %s\n", b.URL)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s  concurrency %d  duration %s  max requests %d\n",
		cfg.Method, cfg.URL, cfg.Concurrency, cfg.Duration, cfg.MaxRequests)
	rep, runErr := loadtest.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := rep.Write(stdout); err != nil {
		return err
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "loadtest: interrupted; the figures above cover the run so far")
	}
	return nil
}
