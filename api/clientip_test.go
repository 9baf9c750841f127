package api

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	app := fiber.New()
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string // one header per element
		trusted []netip.Prefix
		want    string
	}{
		{"no trusted proxies: the peer", "203.0.113.5", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"an untrusted peer's header is ignored", "203.0.113.5", []string{"198.51.100.1"}, trusted, "203.0.113.5"},
		{"behind the balancer: the client it saw", "10.1.2.3", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"what the client wrote itself is not believed", "10.1.2.3", []string{"6.6.6.6, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"through two trusted proxies", "10.1.2.3", []string{"6.6.6.6, 198.51.100.1, 192.0.2.7"}, trusted, "198.51.100.1"},
		{"a header per proxy", "10.1.2.3", []string{"6.6.6.6", "198.51.100.1", "10.9.9.9"}, trusted, "198.51.100.1"},
		{"no header: the balancer", "10.1.2.3", nil, trusted, "10.1.2.3"},
		{"a hop that is not an address stops the walk", "10.1.2.3", []string{"198.51.100.1, garbage, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"IPv6 clients", "10.1.2.3", []string{"2001:db8::1"}, trusted, "2001:db8::1"},
		{"an IPv4-mapped peer", "::ffff:10.1.2.3", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			req.SetRequestURI("/v1/auth/login")
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			var fctx fasthttp.RequestCtx
			fctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(tc.peer), Port: 40000}, nil)
			c := app.AcquireCtx(&fctx)
			defer app.ReleaseCtx(c)
			if got := clientIP(c, tc.trusted); got.String() != tc.want {
				t.Fatalf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}
