package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
)

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz checks every dependency concurrently with a short timeout: a load balancer stops sending
// traffic to an instance that cannot reach MongoDB or MinIO.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.deps.Ready))
	for name, check := range s.deps.Ready {
		go func() { results <- result{name, check(ctx)} }()
	}
	checks := map[string]string{}
	var failed []string
	for range s.deps.Ready {
		r := <-results
		if r.err != nil {
			checks[r.name] = "unavailable"
			failed = append(failed, r.name)
			s.log.Warn("readiness check failed", "check", r.name, "error", r.err.Error())
			continue
		}
		checks[r.name] = "ok"
	}
	if len(failed) > 0 {
		return apperr.New(apperr.Unavailable, "not ready: %v unavailable", failed)
	}
	return c.JSON(fiber.Map{"status": "ready", "checks": checks})
}

func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/yaml")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(s.deps.OpenAPI)
}

func (s *Server) jwks(c *fiber.Ctx) error {
	doc, err := s.deps.JWKS()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	// Short: clients must pick up a rotated key well within an access token's lifetime.
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(doc)
}
