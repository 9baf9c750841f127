package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// haproxyConfig balances over the instances, checking /readyz every 500 ms (a check may take 2 s:
// on a loaded machine a slower /readyz is not a dead instance). A request that could not reach
// an instance (refused, reset before an answer) is retried on another one; when no instance is
// ready HAProxy itself answers 503 problem+json with Retry-After, as mportal does. Requests are
// buffered whole up to 1 MiB (tune.bufsize), so that a tus PATCH chunk (uploadChunk, 512 KiB)
// can be retried too: a bigger body streams through and is not retried.
func haproxyConfig(port int, ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 4096
	tune.bufsize 1048576
	tune.maxrewrite 16384
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
	timeout http-request 10s
	option http-buffer-request
	retries 3
	option redispatch 1
	retry-on conn-failure empty-response response-timeout
	http-error status 503 content-type application/problem+json string "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\"code\":\"unavailable\",\"detail\":\"no instance is ready\"}" hdr Retry-After 2
	http-error status 502 content-type application/problem+json string "{\"type\":\"about:blank\",\"title\":\"Bad Gateway\",\"status\":502,\"code\":\"unavailable\",\"detail\":\"the instance failed\"}" hdr Retry-After 1
frontend api
	bind 127.0.0.1:%d
	default_backend mportal
backend mportal
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	timeout check 2s
	default-server inter 500ms fall 2 rise 2
`, port)
	for i, p := range ports {
		fmt.Fprintf(&b, "\tserver m%d 127.0.0.1:%d check\n", i, p)
	}
	return b.String()
}

func (c *cluster) startHAProxy(ctx context.Context, port int) error {
	cfg := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(port, c.ports)), 0o644); err != nil {
		return err
	}
	c.haproxy = &proc{name: "haproxy", log: filepath.Join(c.dir, "haproxy.log"), args: []string{"haproxy", "-db", "-f", cfg}}
	if err := c.haproxy.start(); err != nil {
		return fmt.Errorf("%w (install it: apt-get install haproxy, or make setup)", err)
	}
	return waitHTTP(ctx, c.haproxy, c.base+"/readyz", 30*time.Second)
}
