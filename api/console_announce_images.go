package api

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/console"
)

// consoleImageURLs presigns the uploaded images (cover, banner and card images) that a content
// screen shows, through the announcement service's ImageURL (the service of GET
// /v1/images/{key}: a short-lived GET straight from MinIO), and returns the URL of each key with
// the origins the page's img-src must allow. A key that names no image any more is left out (the
// page shows the key alone).
func (s *Server) consoleImageURLs(c *fiber.Ctx, keys ...string) (map[string]string, []string, error) {
	urls, origins := map[string]string{}, []string{}
	for _, key := range keys {
		if key == "" || urls[key] != "" {
			continue
		}
		u, _, err := s.deps.Announcements.ImageURL(c.UserContext(), principal(c), key)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		urls[key] = u.String()
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return urls, origins, nil
}

// renderWithImages renders a content screen and widens its img-src to the origins of the
// images it shows (console.CSPAllowingImages); every other page keeps console.CSP.
func (s *Server) renderWithImages(c *fiber.Ctx, status int, name string, page console.Page, origins []string) error {
	if err := s.renderConsole(c, status, name, page); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSPAllowingImages(console.CSP, origins...))
	return nil
}

// consoleInlineImage uploads an image for an announcement body (multipart field image) through
// the same upload as the cover image and answers its key and the Markdown that references it;
// the compose form's "Insert image" (static/announce-images.js) puts that at the cursor.
func (s *Server) consoleInlineImage(c *fiber.Ctx) error {
	key, err := s.consoleImage(c, "image")
	if err != nil {
		return err
	}
	if key == "" {
		return apperr.Field("image", "choose a PNG, JPEG or WebP image to upload")
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"key": key, "markdown": "![image](" + announce.ImageScheme + key + ")"})
}

// withInlineImageOrigin adds the origin of presigned image URLs to origins, for the pages that
// show an announcement body's inline images (its page, the compose and edit forms with their
// live preview and review).
func (s *Server) withInlineImageOrigin(c *fiber.Ctx, origins []string) ([]string, error) {
	origin, err := s.deps.Announcements.ImageOrigin(c.UserContext())
	if err != nil {
		return nil, err
	}
	if !slices.Contains(origins, origin) {
		origins = append(origins, origin)
	}
	return origins, nil
}
