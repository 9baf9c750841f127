package api

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
)

func (s *Server) listUsers(c *fiber.Ctx) error {
	f := directory.ListFilter{
		Department: c.Query("department"),
		Role:       c.Query("role"),
		Status:     c.Query("status"),
		Query:      c.Query("q"),
		Cursor:     c.Query("cursor"),
	}
	limit, err := queryLimit(c, directory.MaxListLimit)
	if err != nil {
		return err
	}
	f.Limit = limit
	users, next, err := s.deps.Directory.List(c.UserContext(), principal(c), f)
	if err != nil {
		return err
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"items": nonNil(users), "next_cursor": cursor})
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var in directory.CreateUser
	if err := s.bind(c, &in); err != nil {
		return err
	}
	u, otp, err := s.deps.Directory.Create(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"user": u, "one_time_password": otp})
}

func (s *Server) getUser(c *fiber.Ctx) error {
	u, err := s.deps.Directory.Get(c.UserContext(), principal(c), c.Params("user_id"))
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) updateUser(c *fiber.Ctx) error {
	var in directory.UserUpdate
	if err := s.bind(c, &in); err != nil {
		return err
	}
	u, err := s.deps.Directory.Update(c.UserContext(), principal(c), c.Params("user_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) setRoles(c *fiber.Ctx) error {
	var in struct {
		Roles []auth.Role `json:"roles"`
	}
	if err := s.bind(c, &in); err != nil {
		return err
	}
	u, err := s.deps.Directory.SetRoles(c.UserContext(), principal(c), c.Params("user_id"), in.Roles)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (s *Server) resetPassword(c *fiber.Ctx) error {
	otp, err := s.deps.Directory.ResetPassword(c.UserContext(), principal(c), c.Params("user_id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"one_time_password": otp})
}

func (s *Server) revokeUserSessions(c *fiber.Ctx) error {
	if err := s.deps.Directory.RevokeSessions(c.UserContext(), principal(c), c.Params("user_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) departments(c *fiber.Ctx) error {
	ds, err := s.deps.Directory.Departments(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(ds)})
}

// importUsers takes a CSV body (up to the import limit, not the JSON limit).
func (s *Server) importUsers(c *fiber.Ctx) error {
	if err := requireContentType(c, "text/csv"); err != nil {
		return err
	}
	body := c.Request().Body()
	if len(body) > s.deps.Config.ImportLimit {
		return apperr.New(apperr.TooLarge, "the CSV file is over %d bytes", s.deps.Config.ImportLimit)
	}
	res, err := s.deps.Directory.Import(c.UserContext(), principal(c), bytes.NewReader(body))
	if err != nil {
		return err
	}
	return c.JSON(res)
}
