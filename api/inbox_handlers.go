package api

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/inbox"
)

// listInbox answers one page of the caller's inbox with the unread count, so that the app's
// badge and list come from one request.
func (s *Server) listInbox(c *fiber.Ctx) error {
	limit, err := queryLimit(c, inbox.MaxLimit)
	if err != nil {
		return err
	}
	p := principal(c)
	items, next, err := s.deps.Inbox.List(c.UserContext(), p, limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	unread, err := s.deps.Inbox.UnreadCount(c.UserContext(), p)
	if err != nil {
		return err
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"items": nonNil(items), "next_cursor": cursor, "unread": unread})
}

func (s *Server) unreadCount(c *fiber.Ctx) error {
	n, err := s.deps.Inbox.UnreadCount(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"unread": n})
}

// markRead takes the item's id as listed (its notification id, percent-encoded like any path
// segment) and addresses the caller's own item with it: another user's item cannot be named.
func (s *Server) markRead(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("item_id"))
	if err != nil || id == "" {
		return apperr.New(apperr.NotFound, "inbox item not found")
	}
	p := principal(c)
	if err := s.deps.Inbox.MarkRead(c.UserContext(), p, inbox.ItemID(p.UserID, id)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) markAllRead(c *fiber.Ctx) error {
	if err := s.deps.Inbox.MarkAllRead(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
