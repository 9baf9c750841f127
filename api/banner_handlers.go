package api

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/banner"
)

// publicBanners serves the login page's carousel. The list is the same for everyone, so shared
// caches may keep it for a minute and clients revalidate it with If-None-Match.
func (s *Server) publicBanners(c *fiber.Ctx) error {
	page, err := s.deps.Banners.Public(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, page.ETag)
	c.Set(fiber.HeaderCacheControl, "public, max-age="+strconv.Itoa(int(banner.PublicMaxAge.Seconds())))
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), page.ETag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.JSON(fiber.Map{"items": nonNil(page.Items)})
}

// etagMatches applies If-None-Match: a list of entity tags, or "*", compared weakly (RFC 9110
// section 13.1.2), so a W/ prefix added by a proxy still matches.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for tag := range strings.SplitSeq(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
			return true
		}
	}
	return false
}

func (s *Server) listBanners(c *fiber.Ctx) error {
	items, err := s.deps.Banners.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) createBanner(c *fiber.Ctx) error {
	var in banner.Input
	if err := s.bind(c, &in); err != nil {
		return err
	}
	b, err := s.deps.Banners.Create(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(b)
}

func (s *Server) updateBanner(c *fiber.Ctx) error {
	var p banner.Patch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	b, err := s.deps.Banners.Update(c.UserContext(), principal(c), c.Params("banner_id"), p)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Server) deleteBanner(c *fiber.Ctx) error {
	if err := s.deps.Banners.Delete(c.UserContext(), principal(c), c.Params("banner_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
