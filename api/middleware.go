package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

const (
	headerRequestID = "X-Request-ID"
	localRequestID  = "request_id"
	localPrincipal  = "principal"
)

// validRequestID keeps client-supplied ids from injecting into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID takes X-Request-ID from the client when it is sane, or makes one, and echoes it.
func (s *Server) requestID(c *fiber.Ctx) error {
	requestID(c)
	return c.Next()
}

// requestID returns the request's id, assigning it on first use. Errors that fasthttp raises
// before any middleware runs (a body over the server limit) reach the error handler without one.
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return id
	}
	id := c.Get(headerRequestID)
	if !validRequestID.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Locals(localRequestID, id)
	c.Set(headerRequestID, id)
	return id
}

// routeOf is the matched route template (/v1/devices/:device_id), never the raw path, so that
// metrics have bounded labels and logs carry no ids.
func routeOf(c *fiber.Ctx) string {
	if r := c.Route(); r != nil && r.Path != "" && r.Path != "/" {
		return r.Path
	}
	return "unmatched"
}

// observe writes the access log line and the request metrics. It renders errors itself (through
// the error handler) so that the status it records is the one the client gets.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	route := routeOf(c)
	elapsed := time.Since(start)
	s.metrics.observe(c.Method(), route, status, elapsed)
	attrs := []any{
		"request_id", requestID(c),
		"method", c.Method(),
		"route", route,
		"path", c.Path(), // never the query string: it may carry tokens
		"status", status,
		"duration_ms", float64(elapsed.Microseconds()) / 1000,
		"bytes", len(c.Response().Body()),
		"ip", c.IP(),
	}
	if p, ok := c.Locals(localPrincipal).(*auth.Principal); ok {
		attrs = append(attrs, "user_id", p.UserID)
	}
	s.log.Info("request", attrs...)
	return nil
}

// recover turns a panic into a logged 500 problem; the process keeps serving.
func (s *Server) recover(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "request_id", requestID(c), "route", routeOf(c),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

// authenticate requires a valid bearer access token whose session is active. allowPending lets
// users who still must change their one-time password through (only for the few routes that let
// them change it).
func (s *Server) authenticate(allowPending bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="mportal"`)
			return apperr.New(apperr.Unauthorized, "a bearer access token is required")
		}
		p, err := s.deps.Sessions.Authenticate(c.UserContext(), token)
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
