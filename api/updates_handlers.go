package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
)

// checkUpdate reads the query's bytes in place where it keeps nothing of them (the build
// number, the locale), and names the platform by its constant: Immutable would copy each value
// on the busiest route.
func (s *Server) checkUpdate(c *fiber.Ctx) error {
	args := c.Context().QueryArgs()
	q := updates.Query{AppID: c.Params("app_id"), Platform: platformParam(args.Peek("platform")), Channel: c.Query("channel")}
	if q.Platform == "" {
		return apperr.Field("platform", "platform is required (android or ios)")
	}
	build, err := strconv.ParseInt(utils.UnsafeString(args.Peek("build")), 10, 64)
	if err != nil {
		return apperr.Field("build", "build is required and must be a whole number")
	}
	q.Build = build
	// The answer is appended straight to the response's body buffer, which fasthttp recycles
	// across requests: neither a pool of our own nor a copy.
	resp := c.Response()
	buf := resp.SwapBody(nil)
	body, err := s.deps.Updates.AppendCheckUpdate(c.UserContext(), principal(c), q, requestLocale(c), buf[:0])
	if err != nil {
		resp.SwapBody(buf[:0])
		return err
	}
	resp.SwapBody(body)
	// Set as canonical bytes: c.Set copies and normalizes the header's name on every call.
	resp.Header.SetCanonical(headerCacheControl, noStore) // the answer holds short-lived signed links
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

var headerCacheControl, noStore = []byte(fiber.HeaderCacheControl), []byte("no-store")

// platformParam is a platform query parameter: the constant for a known one, else a copy.
func platformParam(b []byte) release.Platform {
	switch string(b) {
	case string(release.Android):
		return release.Android
	case string(release.IOS):
		return release.IOS
	}
	return release.Platform(b)
}

// requestLocale is the locale query parameter, else the first language of Accept-Language. It
// is the request's own bytes, uncopied: valid only while the request is served.
func requestLocale(c *fiber.Ctx) string {
	if l := c.Context().QueryArgs().Peek("locale"); len(l) > 0 {
		return utils.UnsafeString(l)
	}
	first, _, _ := strings.Cut(utils.UnsafeString(c.Request().Header.Peek(fiber.HeaderAcceptLanguage)), ",")
	first, _, _ = strings.Cut(first, ";")
	return strings.TrimSpace(first)
}

func (s *Server) manifest(c *fiber.Ctx) error {
	expires, err := strconv.ParseInt(c.Query("expires"), 10, 64)
	if err != nil {
		return apperr.New(apperr.NotFound, "manifest not found or its link expired")
	}
	body, err := s.deps.Updates.Manifest(c.UserContext(), c.Params("app_id"), c.Params("build_id"), expires, c.Query("sig"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, "application/xml")
	return c.Send(body)
}

func (s *Server) download(c *fiber.Ctx) error {
	link, expires, err := s.deps.Updates.Download(c.UserContext(), principal(c), c.Params("app_id"), c.Params("build_id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON) {
		return c.JSON(fiber.Map{"url": link, "expires_at": expires.UTC().Format(time.RFC3339)})
	}
	return c.Redirect(link, fiber.StatusFound)
}

func (s *Server) appStats(c *fiber.Ctx) error {
	st, err := s.deps.Updates.Stats(c.UserContext(), principal(c), c.Params("app_id"), release.Platform(c.Query("platform")))
	if err != nil {
		return err
	}
	return c.JSON(st)
}
