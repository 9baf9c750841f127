package api

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/mportal/mportal/internal/upload"
)

// tus runs the net/http tus handler for the authenticated caller. Fiber has read the request
// body already (at most the server's body limit, so a PATCH chunk is limited to it).
func (s *Server) tus(h http.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := principal(c)
		adaptor.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The adaptor's context is fasthttp's, which ends only at shutdown (and whose Done
			// races with Shutdown); tusd's per-request goroutines wait for the request's context
			// to end, so the request gets its own, ended here.
			ctx, cancel := context.WithCancel(withProblemRoute(upload.WithPrincipal(c.UserContext(), p), c))
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		}))(c)
		// tusd answers most requests without a body, and the adaptor would label them with
		// fasthttp's default text/plain; a HEAD's problem has no body either.
		if len(c.Response().Body()) == 0 || c.Method() == fiber.MethodHead {
			withoutBodyType(c)
		}
		return nil
	}
}
