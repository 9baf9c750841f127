package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

const (
	headerRequestID = "X-Request-ID"
	localPrincipal  = "principal"
)

// validRequestID keeps client-supplied ids from injecting into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID returns the request's id, assigning it on first use. The response's X-Request-ID
// header, which echoes it, is where it is kept: a string stored in Locals allocates on every
// request, and frame, which assigns it, passes it on itself. Errors that fasthttp raises before
// any middleware runs (a body over the server limit) reach the error handler without one.
func requestID(c *fiber.Ctx) string {
	if id := c.Response().Header.PeekBytes(headerRequestIDBytes); len(id) > 0 {
		return string(id)
	}
	var buf [requestIDLen]byte
	return string(assignRequestID(c, &buf))
}

// assignRequestID gives the request its id: the client's X-Request-ID when sane, else a new one
// written into buf. It returns the id's bytes (the request header's, or buf's), uncopied: frame
// keeps them for the request's access line without reading the response header back.
func assignRequestID(c *fiber.Ctx, buf *[requestIDLen]byte) []byte {
	h := &c.Response().Header
	if id := c.Request().Header.PeekBytes(headerRequestIDBytes); len(id) > 0 && validRequestID.Match(id) {
		h.SetCanonical(headerRequestIDBytes, id) // copied: no normalizing
		return id
	}
	// Another variable than the client's id: Match keeps what it is given, as far as the
	// compiler can tell, which would move buf (frame's) to the heap.
	gen := appendRequestID(buf[:0], c.Context().ConnID(), c.Context().ConnRequestNum())
	h.SetCanonical(headerRequestIDBytes, gen)
	return gen
}

// headerRequestIDBytes is X-Request-ID in the form fasthttp normalizes header names to: set
// with SetCanonical in any other, PeekBytes (which normalizes the name it looks for) misses it.
var headerRequestIDBytes = []byte("X-Request-Id")

// requestIDPrefix is 16 random hex digits per process, so that ids stay unique across replicas
// and restarts; the connection's id and the request's number on it make the rest.
var requestIDPrefix = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

const requestIDLen = 32

// appendRequestID appends a new id to dst: 32 hex digits, the process's prefix, then the
// connection's id and the request's number on it (fasthttp counts both; 8 digits each, which
// wrap after four billion). It is not a secret (it is echoed to the client and logged), so
// counters do, without a call to the random source on every request, and without a counter
// that every core would take turns with.
func appendRequestID(dst []byte, conn, num uint64) []byte {
	const digits = "0123456789abcdef"
	dst = append(dst, requestIDPrefix...)
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[conn>>shift&0xF])
	}
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, digits[num>>shift&0xF])
	}
	return dst
}

// routeOf is the matched route template (/v1/devices/:device_id), never the raw path, so that
// metrics have bounded labels and logs carry no ids.
func routeOf(c *fiber.Ctx) string {
	_, template := matchedRoute(c)
	return template
}

// matchedRoute is the route the request matched and its template; nil and "unmatched" when
// no route but frame's own matched.
func matchedRoute(c *fiber.Ctx) (*fiber.Route, string) {
	if r := c.Route(); r != nil && r.Path != "" && r.Path != "/" {
		return r, r.Path
	}
	return nil, "unmatched"
}

// frame is the one middleware every request passes before any route (one, not a chain of
// four: each link of a Fiber chain walks the route stack again, a cost on every request). In
// order it gives the request its id (taken from X-Request-ID when sane, echoed), turns a panic
// into a logged 500, refuses compressed bodies, runs the route, renders any error through the
// error handler (so that the status it records is the one the client gets), and writes the
// metrics and the access log line.
func (s *Server) frame(c *fiber.Ctx) error {
	// The id's bytes, valid until frame returns: the access line needs no read of the header.
	var idBuf [requestIDLen]byte
	id := utils.UnsafeString(assignRequestID(c, &idBuf))
	// Read by fasthttp just before it called the handler.
	start := c.Context().Time()
	if err := s.guarded(c); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	end := time.Now() // one clock read for the duration and the log line: each costs ~0.1 µs
	s.observe(c, id, end, end.Sub(start))
	return nil
}

// guarded runs the rest of the chain, recovering from a panic in it: the process keeps serving.
func (s *Server) guarded(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "request_id", requestID(c), "route", routeOf(c),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if err := rejectEncodedBody(c); err != nil {
		return err
	}
	if err := limitBody(c, max(s.deps.Config.BodyLimit, s.deps.Config.ImportLimit)); err != nil {
		return err
	}
	defer closeUnread(c)
	return c.Next()
}

// observe records the request's metrics and its access log line (never the query string: it
// may carry tokens): queued for the observer as deployed, else at once.
func (s *Server) observe(c *fiber.Ctx, id string, at time.Time, elapsed time.Duration) {
	status := c.Response().StatusCode()
	matched, route := matchedRoute(c)
	var userID string
	if p, ok := c.Locals(localPrincipal).(*auth.Principal); ok {
		userID = p.UserID
	}
	if s.observer != nil {
		r := finishedRequest{at: at, elapsed: elapsed, route: matched, method: methodName(c.Method()),
			routePath: route, userID: userID, status: status, bytes: responseBytes(c)}
		if len(s.deps.Config.TrustedProxies) == 0 {
			r.peer = c.Context().RemoteAddr()
		} else {
			r.ip = clientIP(c, s.deps.Config.TrustedProxies) // from headers: read while they are there
		}
		s.observer.record(c.Context().ConnID(), r, id, loggedPath(c, route))
		return
	}
	s.metrics.observe(matched, c.Method(), route, status, elapsed)
	// Straight to the handler: slog.Logger.Info would walk the stack for a source position
	// nobody reads.
	h := s.log.Handler()
	ctx := c.UserContext()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("request_id", requestID(c)), // a copy: id is frame's own buffer
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.String("path", loggedPath(c, route)), // never the query string: it may carry tokens
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int("bytes", responseBytes(c)),
		slog.String("ip", s.clientIPString(c)),
	)
	if userID != "" {
		r.AddAttrs(slog.String("user_id", userID))
	}
	_ = h.Handle(ctx, r)
}

// methodName is method as a constant that outlives the request (the observer keeps it): the
// request's own string is a view of its buffer unless Immutable copies it.
func methodName(method string) string {
	switch method {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodPatch:
		return fiber.MethodPatch
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodOptions:
		return fiber.MethodOptions
	}
	return strings.Clone(method)
}

// responseBytes is the answer's body length for the access log: its Content-Length when it is
// streamed (-1 when that is unknown: chunked). Response.Body would read a stream whole into
// memory before the first byte is sent (fasthttp copies it into a buffer), which every sync pull
// and CSV export did for its log line, and it put a failed stream's error text in the body.
func responseBytes(c *fiber.Ctx) int {
	r := c.Response()
	if r.IsBodyStream() {
		return max(r.Header.ContentLength(), -1)
	}
	return len(r.Body())
}

// loggedPath is the request's path as the access log records it: with the credential a path
// may carry (a training playback token, which plays the video without a login until it
// expires) replaced, so that reading the logs grants nothing.
func loggedPath(c *fiber.Ctx, route string) string {
	path := c.Path()
	if strings.Contains(route, "/:token/") {
		if tok := c.Params("token"); tok != "" {
			return strings.Replace(path, "/"+tok+"/", "/[token]/", 1)
		}
	}
	// A playback URL no route matched (a trailing slash, a mistyped name) still carries its
	// token: everything after the video id goes.
	if rest, ok := strings.CutPrefix(path, playbackPrefix); ok {
		if video, _, more := strings.Cut(rest, "/"); more {
			return playbackPrefix + video + "/[token]/..."
		}
	}
	return path
}

// playbackPrefix starts the training playlists' paths, /v1/training/play/{video}/{token}/...
const playbackPrefix = "/v1/training/play/"

func (s *Server) authenticate(allowPending bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		// The header's bytes, uncopied (Immutable would copy the ~400-byte token on every
		// request): Authenticate keeps no reference to the token.
		h := utils.UnsafeString(c.Request().Header.Peek(fiber.HeaderAuthorization))
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="mportal"`)
			return apperr.New(apperr.Unauthorized, "a bearer access token is required")
		}
		p, err := s.deps.Sessions.AuthenticateAt(c.UserContext(), token, c.Context().Time())
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="mportal", error="invalid_token"`)
			return err
		}
		if p.PasswordChangeRequired && !allowPending {
			return apperr.New(apperr.PasswordChangeNeeded, "change your one-time password first (POST /v1/me/password)")
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// requireRole rejects callers without one of roles before the handler runs. Services check again:
// this is defence in depth against a route wired to the wrong handler.
func requireRole(roles ...auth.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := auth.RequireRole(principal(c), roles...); err != nil {
			return err
		}
		return c.Next()
	}
}

// principal returns the authenticated caller; routes without authenticate get nil.
func principal(c *fiber.Ctx) *auth.Principal {
	p, _ := c.Locals(localPrincipal).(*auth.Principal)
	return p
}
