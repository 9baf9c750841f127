package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
)

// queryLimit reads a list's page size from the `limit` query parameter, with the one rule
// every list follows and the contract declares: absent means the list's default (0 is
// returned), and anything but a whole number from 1 to max is 400 invalid naming `limit`.
// A limit out of range is refused, not clamped, so a client learns its mistake.
func queryLimit(c *fiber.Ctx, max int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Field("limit", "limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}
