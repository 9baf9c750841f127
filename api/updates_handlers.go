package api

import (
	"bytes"
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
	query := readUpdateQuery(c)
	q := updates.Query{AppID: c.Params("app_id"), Platform: platformParam(query.platform),
		Channel: string(query.channel), At: c.Context().Time()}
	if q.Platform == "" {
		return apperr.Field("platform", "platform is required (android or ios)")
	}
	build, err := strconv.ParseInt(utils.UnsafeString(query.build), 10, 64)
	if err != nil {
		return apperr.Field("build", "build is required and must be a whole number")
	}
	q.Build = build
	body, err := s.deps.Updates.CheckUpdateJSON(c.UserContext(), principal(c), q, requestLocale(c, query.locale))
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

// updateQuery is the update check's query parameters: each the first value of its name, as
// fasthttp's Args.Peek gives it (nil when absent). Each is the request's own bytes: valid only
// while the request is served.
type updateQuery struct{ platform, channel, build, locale []byte }

// readUpdateQuery reads the update check's parameters. fasthttp's QueryArgs, behind c.Query,
// first copies every key and value of the query into a list of its own (about 2% of the update
// check's CPU as deployed), and a lookup per name walked the query four times (another 3%).
// Without escapes in the query (no % or +, as apps send it), the query string is read in place,
// once; with them QueryArgs decodes it.
func readUpdateQuery(c *fiber.Ctx) updateQuery {
	raw := c.Context().URI().QueryString()
	if bytes.IndexByte(raw, '%') >= 0 || bytes.IndexByte(raw, '+') >= 0 {
		args := c.Context().QueryArgs()
		return updateQuery{platform: args.Peek("platform"), channel: args.Peek("channel"),
			build: args.Peek("build"), locale: args.Peek("locale")}
	}
	return parseUpdateQuery(raw)
}

// parseUpdateQuery reads a query without escapes in one pass: the parts between &s, each a name,
// then the value after its first = (empty without one). FuzzUpdateQuery compares it with Args.
func parseUpdateQuery(raw []byte) updateQuery {
	var q updateQuery
	var seen [4]bool
	start, eq := 0, -1
	for i := 0; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '&' {
			if raw[i] == '=' && eq < 0 {
				eq = i
			}
			continue
		}
		k, v := raw[start:i], raw[i:i]
		if eq >= 0 {
			k, v = raw[start:eq], raw[eq+1:i]
		}
		start, eq = i+1, -1
		var n int
		var field *[]byte
		switch string(k) {
		case "platform":
			n, field = 0, &q.platform
		case "channel":
			n, field = 1, &q.channel
		case "build":
			n, field = 2, &q.build
		case "locale":
			n, field = 3, &q.locale
		default:
			continue
		}
		if !seen[n] {
			seen[n], *field = true, v
		}
	}
	return q
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
func requestLocale(c *fiber.Ctx, locale []byte) string {
	if len(locale) > 0 {
		return utils.UnsafeString(locale)
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
