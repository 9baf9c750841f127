package api

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/whatsnew"
)

func (s *Server) whatsNewForUpdate(c *fiber.Ctx) error {
	from, err := buildParam(c, "from_build")
	if err != nil {
		return err
	}
	to, err := buildParam(c, "to_build")
	if err != nil {
		return err
	}
	r := whatsnew.Range{AppID: c.Query("app"), FromBuild: from, ToBuild: to}
	items, err := s.deps.WhatsNew.ForUpdate(c.UserContext(), principal(c), r)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

// buildParam reads a required build-number query parameter.
func buildParam(c *fiber.Ctx, name string) (int, error) {
	v := c.Query(name)
	if v == "" {
		return 0, apperr.Field(name, "%s is required", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apperr.Field(name, "%s must be a whole number", name)
	}
	return n, nil
}

func (s *Server) listWhatsNew(c *fiber.Ctx) error {
	items, err := s.deps.WhatsNew.List(c.UserContext(), principal(c), c.Query("app"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) createWhatsNew(c *fiber.Ctx) error {
	var in whatsnew.Input
	if err := s.bind(c, &in); err != nil {
		return err
	}
	card, err := s.deps.WhatsNew.Create(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(card)
}

func (s *Server) deleteWhatsNew(c *fiber.Ctx) error {
	// Card ids contain ':', which some clients percent-encode.
	id, err := url.PathUnescape(c.Params("card_id"))
	if err != nil {
		return apperr.New(apperr.NotFound, "what's-new card not found")
	}
	if err := s.deps.WhatsNew.Delete(c.UserContext(), principal(c), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
