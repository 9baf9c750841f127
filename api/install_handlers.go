package api

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release/install"
)

// installCookie holds an access token for the install page. It is accepted only on /install/*
// and the build download endpoint, never by the rest of the API.
const installCookie = "mportal_install"

// installDevice is the device id of install-page sessions, so users can tell them apart in their
// session list.
const installDevice = "install-web"

// installRoutes registers the login-protected install page, outside /v1 because browsers, not
// the apps, use it.
func (s *Server) installRoutes(app fiber.Router) {
	app.Post("/install/login", s.installLogin)
	app.Get("/install/:app_id", s.installAuth(true), s.installPage)
	app.Get("/install/:app_id/qr.png", s.installAuth(false), s.installQR)
}

// installAuth authenticates with a bearer token or the install cookie. Pages (page true) answer
// a visitor without a valid session with the login form instead of an error.
func (s *Server) installAuth(page bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || token == "" {
			token = c.Cookies(installCookie)
		}
		var p *auth.Principal
		var err error
		if token == "" {
			err = apperr.New(apperr.Unauthorized, "sign in first")
		} else if p, err = s.deps.Sessions.Authenticate(c.UserContext(), token); err == nil && p.PasswordChangeRequired {
			err = apperr.New(apperr.PasswordChangeNeeded, "change your one-time password in the app first")
		}
		if err != nil {
			if !page || (apperr.CodeOf(err) != apperr.Unauthorized && apperr.CodeOf(err) != apperr.PasswordChangeNeeded) {
				return err
			}
			msg := ""
			if token != "" {
				msg = "Your session has ended; please sign in again."
			}
			if apperr.CodeOf(err) == apperr.PasswordChangeNeeded {
				msg = "Sign in to the app first and change your one-time password there."
			}
			return s.renderInstall(c, fiber.StatusUnauthorized, install.Page{AppID: c.Params("app_id"), LoginMessage: msg, Next: c.OriginalURL()})
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

func (s *Server) installPage(c *fiber.Ctx) error {
	ua := c.Get(fiber.HeaderUserAgent)
	appID, channel := c.Params("app_id"), c.Query("channel")
	info, err := s.deps.Distribution.Install(c.UserContext(), principal(c), appID, channel, requestLocale(c))
	if err != nil {
		return err
	}
	qr := "/install/" + url.PathEscape(appID) + "/qr.png"
	if channel != "" {
		qr += "?channel=" + url.QueryEscape(channel)
	}
	return s.renderInstall(c, fiber.StatusOK, install.Page{
		AppID: appID, AppName: info.AppName, Device: install.DetectDevice(ua),
		WeChat: install.InWeChat(ua), Info: info, QRPath: qr,
	})
}

func (s *Server) renderInstall(c *fiber.Ctx, status int, p install.Page) error {
	p.WeChat = install.InWeChat(c.Get(fiber.HeaderUserAgent))
	body, err := install.Render(p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, install.CSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(body)
}

// installQR is a QR code of the install page's URL, for desktop visitors to scan.
func (s *Server) installQR(c *fiber.Ctx) error {
	appID, channel := c.Params("app_id"), c.Query("channel")
	// Asking for the page's data checks that the app exists and the channel is well-formed.
	if _, err := s.deps.Distribution.Install(c.UserContext(), principal(c), appID, channel, ""); err != nil {
		return err
	}
	link := s.deps.Config.PublicBaseURL + "/install/" + url.PathEscape(appID)
	if channel != "" {
		link += "?channel=" + url.QueryEscape(channel)
	}
	png, err := install.QRCodePNG(link)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

// installLogin signs in from the install page's form and sets the install cookie. Failures show
// the form again; throttling applies as for the app's login.
func (s *Server) installLogin(c *fiber.Ctx) error {
	if err := requireContentType(c, fiber.MIMEApplicationForm); err != nil {
		return err
	}
	next := c.FormValue("next")
	if !safeNext(next) {
		return apperr.Field("next", "next must be a path of the install page on this site")
	}
	form := install.Page{AppID: strings.TrimPrefix(strings.SplitN(next, "?", 2)[0], "/install/"), Next: next}
	pair, err := s.deps.Sessions.Login(c.UserContext(), auth.LoginInput{
		Login: c.FormValue("login"), Password: c.FormValue("password"), DeviceID: installDevice, IP: c.IP(),
	})
	if err != nil {
		e, ok := apperr.As(err)
		switch {
		case ok && e.Code == apperr.Unauthorized:
			form.LoginMessage = "Wrong employee number, e-mail or password."
			return s.renderInstall(c, fiber.StatusUnauthorized, form)
		case ok && e.Code == apperr.RateLimited:
			wait := int(math.Ceil(e.RetryAfter.Seconds()))
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
			form.LoginMessage = "Too many attempts. Try again in " + strconv.Itoa(wait) + " seconds."
			return s.renderInstall(c, fiber.StatusTooManyRequests, form)
		}
		return err
	}
	if pair.PasswordChangeRequired {
		// The one-time password must be changed in the app; this session is of no use.
		if p, err := s.deps.Sessions.Authenticate(c.UserContext(), pair.AccessToken); err == nil {
			_ = s.deps.Sessions.Logout(c.UserContext(), p)
		}
		form.LoginMessage = "Sign in to the app first and change your one-time password there."
		return s.renderInstall(c, fiber.StatusForbidden, form)
	}
	c.Cookie(&fiber.Cookie{
		Name: installCookie, Value: pair.AccessToken, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		Secure: strings.HasPrefix(s.deps.Config.PublicBaseURL, "https://"),
		MaxAge: max(int(time.Until(pair.AccessExpiresAt).Seconds()), 1),
	})
	// Scripted clients that ask for JSON get the cookie without the browser's redirect.
	if strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// safeNext accepts only a path of the install page on this site, so the login form cannot be
// turned into an open redirect ("//evil.example", "/\evil.example", "https://...").
func safeNext(next string) bool {
	if !strings.HasPrefix(next, "/install/") || strings.ContainsAny(next, "\\\r\n\t") {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/install/") &&
		!strings.Contains(u.Path, "..")
}
