package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/directory"
)

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Server) getMe(c *fiber.Ctx) error {
	u, err := s.deps.Directory.Me(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) updateMe(c *fiber.Ctx) error {
	var in directory.MeUpdate
	if err := s.bind(c, &in); err != nil {
		return err
	}
	u, err := s.deps.Directory.UpdateMe(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var in passwordChange
	if err := s.bind(c, &in); err != nil {
		return err
	}
	if err := s.deps.Sessions.ChangePassword(c.UserContext(), principal(c), in.CurrentPassword, in.NewPassword); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
