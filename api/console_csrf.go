package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// consoleCSRFCookie holds the console's anti-forgery token (double submit: every form carries
// the same value in csrf_token). It lives as long as the browser session, on /console only.
const consoleCSRFCookie = "mportal_console_csrf"

// consoleCSRFToken returns the visitor's console anti-forgery token, setting a new one when the
// visitor has none (or a malformed one).
func (s *Server) consoleCSRFToken(c *fiber.Ctx) string {
	if t := c.Cookies(consoleCSRFCookie); len(t) == csrfTokenLen {
		return t
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	t := base64.RawURLEncoding.EncodeToString(b)
	c.Cookie(&fiber.Cookie{
		Name: consoleCSRFCookie, Value: t, Path: "/console", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: strings.HasPrefix(s.deps.Config.PublicBaseURL, "https://"),
	})
	return t
}

// validConsolePost reports whether a console form post comes from this site and carries the
// token of the visitor's cookie.
func (s *Server) validConsolePost(c *fiber.Ctx) bool {
	cookie, form := c.Cookies(consoleCSRFCookie), c.FormValue("csrf_token")
	return sameOriginPost(c, s.deps.Config.PublicBaseURL) && len(cookie) == csrfTokenLen &&
		subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) == 1
}
