package api

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/updates"
)

// checkUpdate reads the query's bytes in place where it keeps nothing of them (the build
// number, the locale), and names the platform by its constant: Immutable would copy each value
// on the busiest route.
func (s *Server) checkUpdate(c *fiber.Ctx) error {
	query := readQuery(c)
	q := updates.Query{AppID: c.Params("app_id"), Platform: platformParam(query.peek("platform")),
		Channel: string(query.peek("channel"))}
	if q.Platform == "" {
		return apperr.Field("platform", "platform is required (android or ios)")
	}
	build, err := strconv.ParseInt(utils.UnsafeString(query.peek("build")), 10, 64)
	if err != nil {
		return apperr.Field("build", "build is required and must be a whole number")
	}
	q.Build = build
	body, err := s.deps.Updates.CheckUpdateJSON(c.UserContext(), principal(c), q, requestLocale(c, query))
	if err != nil {
		return err
	}
	// Sent as it is: the answer is most often one the service encoded once for many checks, and
	// SetBodyRaw has fasthttp write it to the connection from there, with no copy into the
	// response's own body buffer first.
	resp := c.Response()
	resp.SetBodyRaw(body)
	// Set as canonical bytes: c.Set copies and normalizes the header's name on every call.
	resp.Header.SetCanonical(headerCacheControl, noStore) // the answer holds short-lived signed links
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// rawQuery reads a request's query parameters. fasthttp's QueryArgs, behind c.Query, first
// copies every key and value into a list of its own: about 2% of the update check's CPU as
// deployed. Without escapes in the query (no % or +, as apps send it), rawQuery finds a value
// in the query string itself; with them it asks QueryArgs, which decodes them. Either way the
// value is the request's own bytes: valid only while the request is served.
type rawQuery struct {
	raw  []byte
	args *fasthttp.Args // when the query holds escapes
}

func readQuery(c *fiber.Ctx) rawQuery {
	raw := c.Context().URI().QueryString()
	if bytes.IndexByte(raw, '%') >= 0 || bytes.IndexByte(raw, '+') >= 0 {
		return rawQuery{args: c.Context().QueryArgs()}
	}
	return rawQuery{raw: raw}
}

// peek returns key's first value, as fasthttp.Args.Peek does: the text after the first = of
// the first &-separated part named key, empty when that part has no =, nil when none is
// (FuzzRawQueryPeek compares the two).
func (q rawQuery) peek(key string) []byte {
	if q.args != nil {
		return q.args.Peek(key)
	}
	for rest := q.raw; len(rest) > 0; {
		part := rest
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		k, v := part, part[len(part):]
		if i := bytes.IndexByte(part, '='); i >= 0 {
			k, v = part[:i], part[i+1:]
		}
		if string(k) == key && (len(k) > 0 || len(v) > 0) { // Args drops empty parts
			return v
		}
	}
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
func requestLocale(c *fiber.Ctx, query rawQuery) string {
	if l := query.peek("locale"); len(l) > 0 {
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
