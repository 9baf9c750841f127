package api

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIP is the address of the client that sent the request: the peer's, unless the peer is
// one of the trusted proxies (MPORTAL_TRUSTED_PROXIES, the load balancers in front of mportal).
// Then it is the rightmost address in X-Forwarded-For that is not a trusted proxy: the one the
// outermost trusted proxy saw. What is left of it the client wrote itself and is never
// believed, nor is the header of a peer that is not trusted. Behind a load balancer without
// this, every request came from the balancer: one login throttle for the whole company, which
// anyone could lock with a few dozen wrong passwords.
func clientIP(c *fiber.Ctx, trusted []netip.Prefix) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if len(trusted) == 0 || !inPrefixes(trusted, peer) {
		return peer
	}
	// Each proxy appends its peer to the header, or adds a header of its own after the others.
	headers := c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	for i := len(headers) - 1; i >= 0; i-- {
		h := string(headers[i])
		for h != "" {
			part := h
			if j := strings.LastIndexByte(h, ','); j >= 0 {
				part, h = h[j+1:], h[:j]
			} else {
				h = ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				return peer // a hop we cannot read: the last one a trusted proxy vouched for
			}
			if a = a.Unmap(); !inPrefixes(trusted, a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIPString is clientIP as the login throttle keys it.
func (s *Server) clientIPString(c *fiber.Ctx) string {
	return clientIP(c, s.deps.Config.TrustedProxies).String()
}
