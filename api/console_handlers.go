package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/audit"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/directory"
)

// Audit is the log of console actions (audit.Log).
type Audit interface {
	// NewEntry builds the entry of who did what to which object, before and after, and Insert
	// stores it (unavailable when the database cannot be reached); an entry stored before under
	// its id is success, so an insert tried again is not stored twice.
	NewEntry(actor *auth.Principal, via, action, target string, before, after any) (*audit.Entry, error)
	Insert(ctx context.Context, e *audit.Entry) error
	// List returns the newest entries; forbidden unless actor is an admin.
	List(ctx context.Context, actor *auth.Principal) ([]audit.Entry, error)
	// WriteCSV writes List as CSV; forbidden unless actor is an admin.
	WriteCSV(ctx context.Context, actor *auth.Principal, w io.Writer) error
}

// consoleDevice is the device id of console sessions, so users can tell them apart.
const consoleDevice = "console-web"

// consoleVia marks audit entries written by the console.
const consoleVia = "console"

// consoleAuth lets only a signed-in ops or admin user through: a visitor without a valid
// session gets the sign-in form (401), any other signed-in user the "not allowed" page (403) with
// a sign-out button. A user who still has a one-time password gets the password form (403)
// until they change it.
func (s *Server) consoleAuth(c *fiber.Ctx) error { return s.consoleAuthenticate(c, consoleFull) }

// consolePending is consoleAuth for the password form, which a user with a one-time password may
// use.
func (s *Server) consolePending(c *fiber.Ctx) error {
	return s.consoleAuthenticate(c, consolePasswordOnly)
}

// consoleSignedIn lets any signed-in user through, whatever their roles: sign-out, which the
// "not allowed" page offers to a user who lost the ops or admin role during the session.
func (s *Server) consoleSignedIn(c *fiber.Ctx) error {
	return s.consoleAuthenticate(c, consoleAnySession)
}

// consoleAccess is what a console route asks of its session.
type consoleAccess int

const (
	consoleFull         consoleAccess = iota // ops or admin, password changed
	consolePasswordOnly                      // ops or admin, one-time password allowed
	consoleAnySession                        // any signed-in user
)

func (s *Server) consoleAuthenticate(c *fiber.Ctx, access consoleAccess) error {
	p, err := s.consoleSession(c)
	switch {
	case errors.Is(err, errNoConsoleSession):
		return s.renderConsoleLogin(c, fiber.StatusUnauthorized, "")
	case apperr.Is(err, apperr.Unauthorized):
		// The session is over: the browser forgets its tokens rather than send them again.
		s.clearConsoleCookies(c)
		return s.renderConsoleLoginFor(c, err, "session_ended")
	case err != nil:
		return err
	}
	c.Locals(localPrincipal, p)
	switch {
	case access == consoleAnySession:
	case !p.HasAnyRole(auth.RoleOps, auth.RoleAdmin):
		// The session is still alive: the page offers sign-out (the viewer), not the menu.
		return s.renderConsole(c, fiber.StatusForbidden, "denied", console.Page{Title: "denied"})
	case p.PasswordChangeRequired && access == consoleFull:
		return s.renderConsolePassword(c, fiber.StatusForbidden, console.PasswordForm{})
	}
	return c.Next()
}

// consoleChange refuses a change that does not come from one of the console's own forms.
func (s *Server) consoleChange(c *fiber.Ctx) error {
	if err := requireContentType(c, fiber.MIMEApplicationForm); err != nil {
		return err
	}
	if !s.validConsolePost(c) {
		return apperr.New(apperr.Forbidden, "the form has expired: reload the page and submit it again")
	}
	return c.Next()
}

// consoleAdmin shows the "not allowed" page to ops users on the admins' screens; the services
// check the role again.
func (s *Server) consoleAdmin(c *fiber.Ctx) error {
	if !principal(c).HasRole(auth.RoleAdmin) {
		return s.renderConsole(c, fiber.StatusForbidden, "denied", console.Page{Title: "denied"})
	}
	return c.Next()
}

// renderConsole renders a console page with the console's security headers. The page gets the
// viewer, the locale and the anti-forgery token.
func (s *Server) renderConsole(c *fiber.Ctx, status int, name string, p console.Page) error {
	p.Locale = console.Locale(c.Get(fiber.HeaderAcceptLanguage))
	p.CSRFToken = s.consoleCSRFToken(c)
	if p.Viewer == nil && name != "login" && !p.SignedOut {
		p.Viewer = principal(c)
	}
	body, err := console.Render(name, p)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(body)
}

func (s *Server) renderConsoleLogin(c *fiber.Ctx, status int, msg string) error {
	return s.renderConsole(c, status, "login", console.Page{Title: "sign_in", Message: msg})
}

// renderConsoleLoginFor shows the sign-in form as the answer to why: its status and
// Retry-After come from the API's one error mapping (problemFor).
func (s *Server) renderConsoleLoginFor(c *fiber.Ctx, why error, msg string) error {
	p, e, _ := problemFor(why)
	if wait := retryAfter(e); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
	}
	return s.renderConsoleLogin(c, p.Status, msg)
}

// loginMessages are the sign-in form's messages for the login errors it shows.
var loginMessages = map[apperr.Code]string{apperr.Unauthorized: "wrong_password", apperr.RateLimited: "too_many"}

// consoleLogin signs in from the console's form with the API's login (and its throttling)
// and sets the console cookie. Only ops and admins keep the session; anyone else's is ended at
// once. Login CSRF is refused as on the install page.
func (s *Server) consoleLogin(c *fiber.Ctx) error {
	if err := requireContentType(c, fiber.MIMEApplicationForm); err != nil {
		return err
	}
	if !s.validConsolePost(c) {
		return s.renderConsoleLogin(c, fiber.StatusForbidden, "form_expired")
	}
	ctx := c.UserContext()
	pair, err := s.deps.Sessions.Login(ctx, auth.LoginInput{
		Login: c.FormValue("login"), Password: c.FormValue("password"), DeviceID: consoleDevice, IP: s.clientIPString(c),
		Idle: ConsoleIdle,
	})
	if err != nil {
		// A wrong password or throttling shows the form again, with the status and Retry-After
		// of the API's one error mapping (problemFor).
		msg := loginMessages[apperr.CodeOf(err)]
		if msg == "" {
			return err
		}
		return s.renderConsoleLoginFor(c, err, msg)
	}
	p, err := s.deps.Sessions.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		return err
	}
	if !p.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		if err := s.deps.Sessions.Logout(ctx, p); err != nil {
			return err
		}
		// Their session has just ended: the page shows neither the menu nor a sign-out button.
		return s.renderConsole(c, fiber.StatusForbidden, "denied", console.Page{Title: "denied", SignedOut: true})
	}
	s.audit(c, p, "console.sign_in", p.UserID, nil, map[string]string{"session_id": p.SessionID})
	s.setConsoleCookies(c, pair)
	// A one-time password is changed first, on the console's own form (the same service as
	// POST /v1/me/password); until then consoleAuth sends every page there.
	if pair.PasswordChangeRequired {
		return consoleDone(c, consolePasswordPath)
	}
	return consoleDone(c, "/console/")
}

// consoleDone answers a successful form post: the browser goes on to next (303); a script that
// asks for JSON gets 204, as on the install page.
func consoleDone(c *fiber.Ctx, next string) error {
	if consoleWantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// consoleWantsJSON reports whether a script asked for JSON (Accept) rather than a page.
func consoleWantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON)
}

// consoleLogout ends the console session (revoked, so its refresh token is dead too) and clears
// its cookies.
func (s *Server) consoleLogout(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.deps.Sessions.Logout(c.UserContext(), p); err != nil {
		return err
	}
	s.audit(c, p, "console.sign_out", p.UserID, map[string]string{"session_id": p.SessionID}, nil)
	s.clearConsoleCookies(c)
	return consoleDone(c, "/console/")
}

// consoleUsers is the admins' directory search.
// consoleUsersPage is how many users the users screen lists per page (the directory's most).
const consoleUsersPage = directory.MaxListLimit

func (s *Server) consoleUsers(c *fiber.Ctx) error {
	q := c.Query("q")
	users, next, err := s.deps.Directory.List(c.UserContext(), principal(c), directory.ListFilter{Query: q,
		Limit: consoleUsersPage, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "users", console.Page{Title: "users", Nav: "users",
		Data: console.UsersData{Query: q, Users: users, Next: next, Roles: auth.AllRoles}})
}

// consoleUserStatus disables or enables a user through the directory service and audits the
// change with the user before and after.
func (s *Server) consoleUserStatus(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("user_id")
	status := c.FormValue("status")
	if status != directory.StatusActive && status != directory.StatusDisabled {
		return apperr.Field("status", "status must be %q or %q", directory.StatusActive, directory.StatusDisabled)
	}
	before, err := s.deps.Directory.Get(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Directory.Update(ctx, p, id, directory.UserUpdate{Status: &status})
	if err != nil {
		return err
	}
	s.audit(c, p, "user.status", id, before, after)
	return consoleDone(c, "/console/users")
}

// consoleAudit shows the newest audit entries.
func (s *Server) consoleAudit(c *fiber.Ctx) error {
	entries, err := s.deps.Audit.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "audit", console.Page{Title: "audit", Nav: "audit", Data: entries})
}

// consoleAuditCSV exports the audit entries as CSV.
func (s *Server) consoleAuditCSV(c *fiber.Ctx) error {
	var buf bytes.Buffer
	if err := s.deps.Audit.WriteCSV(c.UserContext(), principal(c), &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="audit.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// consoleStatic serves the console's embedded stylesheet (and any other static file).
func (s *Server) consoleStatic(c *fiber.Ctx) error {
	name := path.Clean(c.Params("file"))
	b, err := fs.ReadFile(console.Static(), name)
	if err != nil || strings.Contains(name, "/") {
		return apperr.New(apperr.NotFound, "no console file %q", name)
	}
	switch path.Ext(name) {
	case ".css":
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case ".js":
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	default:
		c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Send(b)
}

// Audit writes are tried auditAttempts times within auditTimeout.
const (
	auditAttempts = 3
	auditTimeout  = 5 * time.Second
)

// audit records a console change in the audit log once the change is made: who (p) did what
// (action, e.g. "user.disable") to which object (target), before and after. The change stands
// whatever happens here, so the visitor gets the change's answer either way: a failed write is
// tried again, then logged at error level with the actor, action and target (not the objects:
// the log need not hold what the audit log does). Before, a failed audit write answered an
// error page for a change that had been made, which invited making it again (a second
// announcement, a second video), and left a signed-out visitor's cookies in place.
func (s *Server) audit(c *fiber.Ctx, p *auth.Principal, action, target string, before, after any) {
	// The change is made: the audit entry is owed even when the visitor has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), auditTimeout)
	defer cancel()
	e, err := s.deps.Audit.NewEntry(p, consoleVia, action, target, before, after)
	for attempt := 1; err == nil; attempt++ {
		// The same entry each time: one whose insert was written but whose answer was lost is
		// found stored, not stored twice.
		if err = s.deps.Audit.Insert(ctx, e); err == nil {
			return
		}
		if attempt == auditAttempts || ctx.Err() != nil || !apperr.Is(err, apperr.Unavailable) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	s.log.Error("audit entry not recorded: the change was made", "action", action, "target", target,
		"actor_id", p.UserID, "via", consoleVia, "request_id", requestID(c), "error", err.Error())
}
