package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/directory"
)

func (s *Server) checkIn(c *fiber.Ctx) error {
	var in directory.DeviceInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	d, err := s.deps.Devices.CheckIn(c.UserContext(), principal(c), c.Params("device_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) listDevices(c *fiber.Ctx) error {
	ds, err := s.deps.Devices.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(ds)})
}

func (s *Server) deleteDevice(c *fiber.Ctx) error {
	if err := s.deps.Devices.Delete(c.UserContext(), principal(c), c.Params("device_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
