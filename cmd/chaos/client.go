package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// client talks to HAProxy and records every answer, for the outage checks.
type client struct {
	base    string
	http    *http.Client
	timeout time.Duration

	mu      sync.Mutex
	answers []chaos.Answer
}

func newClient(base string, timeout time.Duration) *client {
	// Idle connections are dropped after 5 s, before HAProxy closes them (its keep-alive timeout
	// is its http-request timeout, 10 s): a POST sent on a connection HAProxy closes at that
	// moment fails without an answer, and Go does not resend a POST.
	return &client{base: base, timeout: timeout, http: &http.Client{Timeout: timeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 5 * time.Second}}}
}

// do sends one request and decodes a 2xx JSON answer into out. It returns the status (0 when no
// answer came) and an error for anything but 2xx.
func (c *client) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	return c.doWith(ctx, method, path, token, nil, body, out)
}

// doWith is do with extra request headers.
func (c *client) doWith(ctx context.Context, method, path, token string, header map[string]string, body, out any) (int, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return 0, err
		}
		header = maps.Clone(header)
		if header == nil {
			header = map[string]string{}
		}
		header["Content-Type"] = "application/json"
	}
	status, _, answer, err := c.send(ctx, method, path, token, header, data)
	if err != nil {
		return status, err
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			return status, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return status, nil
}

// send sends one request with a raw body (nil for none) and records the answer. It returns the
// status (0 when no answer came), the answer's headers and body, and an error for anything but
// 2xx.
func (c *client) send(ctx context.Context, method, path, token string, header map[string]string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	route, _, _ := strings.Cut(path, "?")
	switch {
	case strings.HasPrefix(route, "/v1/devices/"):
		route = "/v1/devices/:id"
	case strings.HasPrefix(route, "/v1/uploads/") && route != "/v1/uploads/":
		route = "/v1/uploads/:id"
	case strings.HasPrefix(route, "/v1/feedback/attachments/"):
		route = "/v1/feedback/attachments/:id/content"
	}
	a := chaos.Answer{At: start, Request: method + " " + route}
	if err != nil {
		a.Took = time.Since(start)
		if ctx.Err() == nil { // the rig's own end is not the server's fault
			c.record(a)
		}
		return 0, nil, nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.Took, a.Status, a.RetryAfter = time.Since(start), resp.StatusCode, resp.Header.Get("Retry-After") != ""
	c.record(a)
	if err != nil {
		return 0, nil, nil, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, resp.Header, data, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return resp.StatusCode, resp.Header, data, nil
}

func (c *client) record(a chaos.Answer) {
	c.mu.Lock()
	c.answers = append(c.answers, a)
	c.mu.Unlock()
}

func (c *client) snapshot() []chaos.Answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chaos.Answer(nil), c.answers...)
}

// retry repeats do until it succeeds with 2xx, a 4xx other than 429 says the request itself is
// wrong, or ctx ends. It returns the last error.
func (c *client) retry(ctx context.Context, method, path, token string, body, out any) error {
	for {
		status, err := c.do(ctx, method, path, token, body, out)
		if err == nil {
			return nil
		}
		if status >= 400 && status < 500 && status != 429 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
