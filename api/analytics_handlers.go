package api

import (
	"encoding/csv"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/apperr"
)

func (s *Server) ingestEvents(c *fiber.Ctx) error {
	var b analytics.Batch
	if err := s.bind(c, &b); err != nil {
		return err
	}
	res, err := s.deps.Analytics.Ingest(c.UserContext(), principal(c), b)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func metricsRange(c *fiber.Ctx) analytics.Range {
	return analytics.Range{From: c.Query("from"), To: c.Query("to")}
}

func (s *Server) activeUsers(c *fiber.Ctx) error {
	res, err := s.deps.Analytics.ActiveUsers(principal(c), metricsRange(c), c.Query("dimension"), c.Query("value"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// activeUsersCSV is the daily series of activeUsers as CSV, for spreadsheets.
func (s *Server) activeUsersCSV(c *fiber.Ctx) error {
	res, err := s.deps.Analytics.ActiveUsers(principal(c), metricsRange(c), c.Query("dimension"), c.Query("value"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="active-users.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	w := csv.NewWriter(c.Response().BodyWriter())
	_ = w.Write([]string{"day", "dau", "wau", "mau", "dau_mau"})
	for _, d := range res.Days {
		_ = w.Write([]string{d.Day, strconv.Itoa(d.DAU), strconv.Itoa(d.WAU), strconv.Itoa(d.MAU), strconv.FormatFloat(d.DAUMAU, 'f', 4, 64)})
	}
	w.Flush()
	return w.Error()
}

func (s *Server) activeUsersBreakdown(c *fiber.Ctx) error {
	items, err := s.deps.Analytics.BreakdownBy(principal(c), metricsRange(c), c.Query("dimension"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) screenMetrics(c *fiber.Ctx) error {
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apperr.Field("limit", "limit must be a number from 1 to 1000")
		}
		limit = n
	}
	if screen := c.Query("screen"); screen != "" {
		days, err := s.deps.Analytics.ScreenDays(principal(c), metricsRange(c), screen)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"screen": screen, "days": days})
	}
	items, err := s.deps.Analytics.Screens(principal(c), metricsRange(c), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) adoptionMetrics(c *fiber.Ctx) error {
	days, err := s.deps.Analytics.Adoption(principal(c), c.Query("app"), metricsRange(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"app": c.Query("app"), "days": days, "builds": analytics.Reach(days)})
}

func (s *Server) activationMetrics(c *fiber.Ctx) error {
	res, err := s.deps.Analytics.Activation(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) releaseAdoption(c *fiber.Ctx) error {
	items, err := s.deps.Analytics.ReleaseAdoption(c.UserContext(), principal(c), c.Query("app"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"app": c.Query("app"), "items": items})
}

// releaseAdoptionCSV is releaseAdoption as CSV, for spreadsheets.
func (s *Server) releaseAdoptionCSV(c *fiber.Ctx) error {
	items, err := s.deps.Analytics.ReleaseAdoption(c.UserContext(), principal(c), c.Query("app"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="release-adoption.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	days := func(n *int) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	w := csv.NewWriter(c.Response().BodyWriter())
	_ = w.Write([]string{"release_id", "platform", "channel", "build", "version", "percent", "state", "published_at",
		"eligible", "reached", "share", "days_to_50", "days_to_90"})
	for _, r := range items {
		_ = w.Write([]string{r.ReleaseID, r.Platform, r.Channel, strconv.FormatInt(r.Build, 10), r.Version,
			strconv.FormatFloat(r.Percent, 'f', -1, 64), r.State, r.PublishedAt.UTC().Format("2006-01-02T15:04:05Z"),
			strconv.Itoa(r.Eligible), strconv.Itoa(r.Reached), strconv.FormatFloat(r.Share, 'f', 4, 64), days(r.DaysTo50), days(r.DaysTo90)})
	}
	w.Flush()
	return w.Error()
}

func (s *Server) stuckDevices(c *fiber.Ctx) error {
	groups, _, err := s.deps.Analytics.Stuck(c.UserContext(), principal(c), c.Query("app"), "", 0, 0)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"app": c.Query("app"), "items": groups})
}

func (s *Server) stuckDeviceList(c *fiber.Ctx) error {
	offset, limit := 0, 100
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return apperr.Field("offset", "offset must be a number from 0")
		}
		offset = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return apperr.Field("limit", "limit must be a number from 1 to 500")
		}
		limit = n
	}
	platform := c.Query("platform")
	groups, page, err := s.deps.Analytics.Stuck(c.UserContext(), principal(c), c.Query("app"), platform, offset, limit)
	if err != nil {
		return err
	}
	total := 0
	for _, g := range groups {
		if platform == "" || g.Platform == platform {
			total += g.Stuck
		}
	}
	var next *int
	if n := offset + len(page); n < total {
		next = &n
	}
	return c.JSON(fiber.Map{"items": page, "total": total, "next_offset": next})
}
