package api

import (
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
			msg := install.NoMessage
			if token != "" {
				msg = install.SessionEnded
			}
			if apperr.CodeOf(err) == apperr.PasswordChangeNeeded {
				msg = install.ChangePassword
			}
			// The sign-in form answers as a missing session does, whatever ended the session.
			return s.renderLogin(c, apperr.New(apperr.Unauthorized, "sign in first"), c.Params("app_id"), c.OriginalURL(), msg)
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// installPage shows the builds offered to the visitor, in the language of the page: release
// notes and the page's own words follow the same Accept-Language choice.
func (s *Server) installPage(c *fiber.Ctx) error {
	appID, channel := c.Params("app_id"), c.Query("channel")
	locale := install.NegotiateLocale(c.Get(fiber.HeaderAcceptLanguage))
	info, err := s.deps.Updates.Install(c.UserContext(), principal(c), appID, channel, string(locale))
	if err != nil {
		return err
	}
	p := install.Page{AppID: appID, AppName: info.AppName, Device: install.DetectDevice(c.Get(fiber.HeaderUserAgent)), Info: info,
		QRPath: installAsset(appID, "qr.png", channel)}
	if info.IconKey != "" {
		p.IconPath = installAsset(appID, "icon.png", channel)
	}
	return s.renderInstall(c, fiber.StatusOK, p)
}

// installAsset is the path of an image of the install page (QR code, icon) for channel.
func installAsset(appID, name, channel string) string {
	path := "/install/" + url.PathEscape(appID) + "/" + name
	if channel != "" {
		path += "?channel=" + url.QueryEscape(channel)
	}
	return path
}

// renderLogin shows the sign-in form, titled with the app's name, with a fresh or the
// visitor's current anti-forgery token, as the answer to why: its status and Retry-After come
// from the API's one error mapping (problemFor), like a problem document's.
func (s *Server) renderLogin(c *fiber.Ctx, why error, appID, next string, msg install.Message) error {
	name, err := s.deps.Updates.AppName(c.UserContext(), appID)
	if err != nil {
		return err
	}
	p, e, _ := problemFor(why)
	wait := retryAfter(e)
	if wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
	}
	return s.renderInstall(c, p.Status, install.Page{AppID: appID, AppName: name, Message: msg, RetryAfter: wait,
		Next: next, CSRFToken: s.installCSRFToken(c)})
}

func (s *Server) renderInstall(c *fiber.Ctx, status int, p install.Page) error {
	p.WeChat = install.InWeChat(c.Get(fiber.HeaderUserAgent))
	p.Locale = install.NegotiateLocale(c.Get(fiber.HeaderAcceptLanguage))
	body, err := install.Render(p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, install.CSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer") // as the page's meta tag: links leave no trace of the page
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(body)
}

// installQR is a QR code of the install page's URL, for desktop visitors to scan.
func (s *Server) installQR(c *fiber.Ctx) error {
	appID, channel := c.Params("app_id"), c.Query("channel")
	// Asking for the page's data checks that the app exists and the channel is well-formed.
	if _, err := s.deps.Updates.Install(c.UserContext(), principal(c), appID, channel, ""); err != nil {
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

// installIcon is the icon of the builds the page offers, parsed from the uploaded build.
func (s *Server) installIcon(c *fiber.Ctx) error {
	r, size, err := s.deps.Updates.InstallIcon(c.UserContext(), principal(c), c.Params("app_id"), c.Query("channel"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff") // bytes from an uploaded build: never run as anything but an image
	c.Set(fiber.HeaderContentType, "image/png")
	return c.SendStream(r, int(size)) // fasthttp closes r once it is sent
}

// installLogin signs in from the install page's form and sets the install cookie. Failures show
// the form again; throttling applies as for the app's login. A post from another site, or
// without the form's anti-forgery token, signs nobody in (login CSRF): it shows the form
// again with a fresh token.
func (s *Server) installLogin(c *fiber.Ctx) error {
	if err := requireContentType(c, fiber.MIMEApplicationForm); err != nil {
		return err
	}
	next := c.FormValue("next")
	if !safeNext(next) {
		return apperr.Field("next", "next must be a path of the install page on this site")
	}
	appID, _ := url.PathUnescape(strings.TrimPrefix(strings.SplitN(next, "?", 2)[0], "/install/"))
	if !sameOriginPost(c, s.deps.Config.PublicBaseURL) || !validInstallCSRF(c) {
		return s.renderLogin(c, apperr.New(apperr.Forbidden, "the form has expired"), appID, next, install.FormExpired)
	}
	pair, err := s.deps.Sessions.Login(c.UserContext(), auth.LoginInput{
		Login: c.FormValue("login"), Password: c.FormValue("password"), DeviceID: installDevice, IP: s.clientIPString(c),
	})
	if err != nil {
		switch apperr.CodeOf(err) {
		case apperr.Unauthorized:
			return s.renderLogin(c, err, appID, next, install.WrongPassword)
		case apperr.RateLimited:
			return s.renderLogin(c, err, appID, next, install.TooManyAttempts)
		}
		return err
	}
	if pair.PasswordChangeRequired {
		// The one-time password must be changed in the app; this session is of no use.
		if p, err := s.deps.Sessions.Authenticate(c.UserContext(), pair.AccessToken); err == nil {
			_ = s.deps.Sessions.Logout(c.UserContext(), p)
		}
		return s.renderLogin(c, apperr.New(apperr.PasswordChangeNeeded, "change your one-time password in the app first"),
			appID, next, install.ChangePassword)
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
