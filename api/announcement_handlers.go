package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/apperr"
)

// createAnnouncement takes an optional Idempotency-Key header, a Structured Fields string
// ("...") or, leniently, the bare key.
func (s *Server) createAnnouncement(c *fiber.Ctx) error {
	var in announce.Input
	if err := s.bind(c, &in); err != nil {
		return err
	}
	key, err := idempotencyKey(c)
	if err != nil {
		return err
	}
	a, err := s.deps.Announcements.CreateOnce(c.UserContext(), principal(c), key, in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a)
}

func (s *Server) listAnnouncements(c *fiber.Ctx) error {
	items, err := s.deps.Announcements.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) getAnnouncement(c *fiber.Ctx) error {
	a, err := s.deps.Announcements.Get(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) updateAnnouncement(c *fiber.Ctx) error {
	var in announce.Input
	if err := s.bind(c, &in); err != nil {
		return err
	}
	a, err := s.deps.Announcements.Update(c.UserContext(), principal(c), c.Params("announcement_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) withdrawAnnouncement(c *fiber.Ctx) error {
	a, err := s.deps.Announcements.Withdraw(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

func (s *Server) announcementStats(c *fiber.Ctx) error {
	st, err := s.deps.Announcements.Stats(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) remindAnnouncement(c *fiber.Ctx) error {
	r, err := s.deps.Announcements.Remind(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

// uploadImage takes the image as the raw body; its Content-Type is checked by the service,
// against the bytes too.
func (s *Server) uploadImage(c *fiber.Ctx) error {
	body := c.Request().Body()
	if len(body) > announce.MaxImageSize {
		return apperr.New(apperr.TooLarge, "the image is over %d bytes", announce.MaxImageSize)
	}
	key, err := s.deps.Announcements.UploadImage(c.UserContext(), principal(c), c.Get(fiber.HeaderContentType), body)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"key": key})
}

// getImage redirects to a short-lived presigned download URL. A client that asks for JSON
// (Accept: application/json) gets the URL and its expiry instead, to hand to an image loader.
func (s *Server) getImage(c *fiber.Ctx) error {
	u, expires, err := s.deps.Announcements.ImageURL(c.UserContext(), principal(c), c.Params("image_key"))
	if err != nil {
		return err
	}
	// The URL is a credential for a few minutes; nobody should keep it longer.
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	if strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON) {
		return c.JSON(fiber.Map{"url": u.String(), "expires_at": expires.UTC().Format(time.RFC3339)})
	}
	return c.Redirect(u.String(), fiber.StatusFound)
}

func (s *Server) announcementFeed(c *fiber.Ctx) error {
	items, err := s.deps.Announcements.Feed(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) readAnnouncement(c *fiber.Ctx) error {
	d, err := s.deps.Announcements.Read(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) markAnnouncementRead(c *fiber.Ctx) error {
	if err := s.deps.Announcements.MarkRead(c.UserContext(), principal(c), c.Params("announcement_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) acknowledgeAnnouncement(c *fiber.Ctx) error {
	if err := s.deps.Announcements.Acknowledge(c.UserContext(), principal(c), c.Params("announcement_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// idempotencyKey reads the Idempotency-Key header (empty when absent), without the quotes of
// its Structured Fields form.
func idempotencyKey(c *fiber.Ctx) (string, error) {
	key := strings.TrimSpace(c.Get("Idempotency-Key"))
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
		if key == "" {
			return "", apperr.Field("Idempotency-Key", "Idempotency-Key is empty")
		}
	}
	return key, nil
}
