package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// installCSRFCookie holds the install login form's anti-forgery token (double-submit: the form
// carries the same value in csrf_token). Another site can make a browser post the form, but
// can neither read nor set this cookie, so it cannot sign a visitor in to its own account.
const installCSRFCookie = "mportal_install_csrf"

// csrfTokenLen is the length of a token: 32 random bytes, base64url without padding.
const csrfTokenLen = 43

// installCSRFToken returns the visitor's anti-forgery token, setting a new one when the
// visitor has none (or a malformed one).
func (s *Server) installCSRFToken(c *fiber.Ctx) string {
	if t := c.Cookies(installCSRFCookie); len(t) == csrfTokenLen {
		return t
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	t := base64.RawURLEncoding.EncodeToString(b)
	c.Cookie(&fiber.Cookie{
		Name: installCSRFCookie, Value: t, Path: "/install", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: strings.HasPrefix(s.deps.Config.PublicBaseURL, "https://"),
	})
	return t
}

// validInstallCSRF reports whether the posted form carries the token of the visitor's cookie.
func validInstallCSRF(c *fiber.Ctx) bool {
	cookie, form := c.Cookies(installCSRFCookie), c.FormValue("csrf_token")
	return len(cookie) == csrfTokenLen && subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) == 1
}

// sameOriginPost reports whether a form post comes from this site, as far as the browser
// tells: current browsers send Sec-Fetch-Site, and Origin on every POST. A request with
// neither (a script) is judged by the token alone.
func sameOriginPost(c *fiber.Ctx, publicBaseURL string) bool {
	site := c.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := c.Get(fiber.HeaderOrigin)
	switch {
	case origin == "":
		return true
	case origin == "null":
		// The page's no-referrer policy makes browsers send "Origin: null" even to the same
		// origin; Sec-Fetch-Site, checked above, then has to vouch for the post.
		return site != ""
	case strings.EqualFold(origin, c.BaseURL()):
		return true
	}
	u, err := url.Parse(publicBaseURL)
	return err == nil && u.Host != "" && strings.EqualFold(origin, u.Scheme+"://"+u.Host)
}
