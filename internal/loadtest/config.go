// Package loadtest is a closed-loop HTTP load generator for measuring mportal on this machine:
// Concurrency workers each send a request, wait for the response, and send the next, until
// MaxRequests have been sent or Duration has passed. It refuses targets that are not loopback
// addresses, and every run is bounded in time, so it cannot be turned into a flood against
// someone else's server.
//
// It uses the fasthttp client (already in the module graph through Fiber): on a two-core machine
// the client shares the CPU with the server under test, and fasthttp's allocation-free client
// leaves the server more of it than net/http's does.
package loadtest

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Limits and defaults of a run.
const (
	DefaultConcurrency = 16
	MaxConcurrency     = 4096
	DefaultDuration    = 10 * time.Second
	// MaxDuration bounds every run, so a forgotten or mistyped flag cannot leave a generator
	// running indefinitely.
	MaxDuration    = 10 * time.Minute
	DefaultTimeout = 10 * time.Second
)

// Config describes one run.
type Config struct {
	// URL is the target, http or https, on 127.0.0.0/8, ::1 or localhost.
	URL string
	// URLs, when set, replaces URL: worker w requests URLs[w % len(URLs)], so workers can
	// address different objects (one device each, say) instead of contending for one. Every URL
	// must be on the same host and port.
	URLs []string
	// Method is the HTTP method; empty means GET.
	Method string
	// Headers are sent with every request (Authorization, Content-Type, ...).
	Headers http.Header
	// Body is sent with every request; nil sends none.
	Body []byte
	// Concurrency is the number of workers, each with one request in flight and its own
	// keep-alive connection; zero means DefaultConcurrency.
	Concurrency int
	// Duration bounds the run; zero means DefaultDuration. Requests in flight when it ends are
	// waited for (at most Timeout).
	Duration time.Duration
	// MaxRequests ends the run after this many requests; zero means no count limit (Duration
	// still applies).
	MaxRequests int64
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
}

// plan is a validated Config with its defaults filled in.
type plan struct {
	target      target
	urls        []string
	method      string
	headers     http.Header
	body        []byte
	concurrency int
	duration    time.Duration
	maxRequests int64
	timeout     time.Duration
}

// Validate reports what is wrong with c, without sending anything.
func (c Config) Validate() error {
	_, err := c.plan()
	return err
}

func (c Config) plan() (plan, error) {
	p := plan{
		urls: c.URLs, method: c.Method, headers: c.Headers, body: c.Body,
		concurrency: c.Concurrency, duration: c.Duration, maxRequests: c.MaxRequests, timeout: c.Timeout,
	}
	if len(p.urls) == 0 {
		if c.URL == "" {
			return plan{}, errors.New("loadtest: a URL is required")
		}
		p.urls = []string{c.URL}
	}
	for i, u := range p.urls {
		t, err := parseTarget(u)
		if err != nil {
			return plan{}, fmt.Errorf("loadtest: %w", err)
		}
		if i > 0 && t != p.target {
			return plan{}, fmt.Errorf("loadtest: url %q is not on %s like the first", u, p.target.addr)
		}
		p.target = t
	}
	if p.method == "" {
		p.method = http.MethodGet
	}
	switch {
	case p.concurrency < 0 || p.concurrency > MaxConcurrency:
		return plan{}, fmt.Errorf("loadtest: concurrency %d is outside 1..%d", p.concurrency, MaxConcurrency)
	case p.duration < 0 || p.duration > MaxDuration:
		return plan{}, fmt.Errorf("loadtest: duration %s is outside (0, %s]", p.duration, MaxDuration)
	case p.maxRequests < 0:
		return plan{}, fmt.Errorf("loadtest: max requests %d is negative", p.maxRequests)
	case p.timeout < 0:
		return plan{}, fmt.Errorf("loadtest: timeout %s is negative", p.timeout)
	}
	if p.concurrency == 0 {
		p.concurrency = DefaultConcurrency
	}
	if p.duration == 0 {
		p.duration = DefaultDuration
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	return p, nil
}
