package loadtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// errNotLoopback is why a target outside this machine is refused: the generator exists to measure
// mportal on a developer's box or a CI runner, and must never be pointed at someone else's server.
var errNotLoopback = errors.New("only loopback targets are allowed (127.0.0.0/8, ::1 or localhost)")

// target is a validated URL: where to connect and what to ask for.
type target struct {
	addr string // host:port to dial
	tls  bool
}

// parseTarget accepts http(s) URLs whose host is a loopback IP literal or "localhost".
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if host == "" {
		return target{}, fmt.Errorf("url %q: no host", raw)
	}
	if !isLoopbackHost(host) {
		return target{}, fmt.Errorf("url %q: %w", raw, errNotLoopback)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return target{addr: net.JoinHostPort(host, port), tls: u.Scheme == "https"}, nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP literal. Other names are
// refused rather than resolved: what a name resolves to can change between this check and the
// dial (loopbackDial checks the connection itself as well).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackDial returns a dialer that refuses any connection whose peer is not a loopback
// address, so "localhost" mapped elsewhere in /etc/hosts is caught at connect time.
func loopbackDial(timeout time.Duration) func(addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return func(addr string) (net.Conn, error) {
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		tcp, ok := conn.RemoteAddr().(*net.TCPAddr)
		if !ok || !tcp.IP.IsLoopback() {
			_ = conn.Close()
			return nil, fmt.Errorf("dial %s reached %s: %w", addr, conn.RemoteAddr(), errNotLoopback)
		}
		return conn, nil
	}
}
