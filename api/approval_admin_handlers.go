package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/approval"
)

// createIntegration answers the new secret once: never cached.
func (s *Server) createIntegration(c *fiber.Ctx) error {
	var in approval.NewIntegration
	if err := s.bind(c, &in); err != nil {
		return err
	}
	res, err := s.deps.Approvals.CreateIntegration(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Server) listIntegrations(c *fiber.Ctx) error {
	list, err := s.deps.Approvals.Integrations(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(list)})
}

func (s *Server) getIntegration(c *fiber.Ctx) error {
	ig, err := s.deps.Approvals.Integration(c.UserContext(), principal(c), c.Params("source"))
	if err != nil {
		return err
	}
	return c.JSON(ig)
}

func (s *Server) updateIntegration(c *fiber.Ctx) error {
	var in approval.IntegrationUpdate
	if err := s.bind(c, &in); err != nil {
		return err
	}
	ig, err := s.deps.Approvals.UpdateIntegration(c.UserContext(), principal(c), c.Params("source"), in)
	if err != nil {
		return err
	}
	return c.JSON(ig)
}

func (s *Server) deleteIntegration(c *fiber.Ctx) error {
	if err := s.deps.Approvals.DeleteIntegration(c.UserContext(), principal(c), c.Params("source")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// rotateSecret answers the new secret once: never cached.
func (s *Server) rotateSecret(c *fiber.Ctx) error {
	res, err := s.deps.Approvals.RotateSecret(c.UserContext(), principal(c), c.Params("source"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(res)
}

func (s *Server) revokeSecret(c *fiber.Ctx) error {
	ig, err := s.deps.Approvals.RevokeSecret(c.UserContext(), principal(c), c.Params("source"), c.Params("secret_id"))
	if err != nil {
		return err
	}
	return c.JSON(ig)
}
