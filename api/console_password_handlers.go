package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/console"
)

// The console's own password change, for every signed-in console user and first of all for one
// with a one-time password (the first admin after `make run`, a user an admin created or reset),
// who is sent here after sign-in. It calls the service of POST /v1/me/password
// (Sessions.ChangePassword), so the rules are the API's: the current password, the length of
// the new one, the throttling of wrong guesses, and the user's other sessions ended.

// consolePasswordPath is the password form's address.
const consolePasswordPath = "/console/password"

// consolePasswordForm shows the form; a user with a one-time password is told why they are here.
func (s *Server) consolePasswordForm(c *fiber.Ctx) error {
	return s.renderConsolePassword(c, fiber.StatusOK, console.PasswordForm{})
}

func (s *Server) renderConsolePassword(c *fiber.Ctx, status int, form console.PasswordForm) error {
	page := console.Page{Title: "change_password_title", Nav: "password", Data: form}
	if principal(c).PasswordChangeRequired {
		page.Message = "change_password_first"
	}
	return s.renderConsole(c, status, "password", page)
}

// consoleChangePassword changes the signed-in user's password with Sessions.ChangePassword. A
// refusal (wrong current password, a new one too short, throttled) shows the form again with the
// service's reason on its field. On success the console session ends too (its token still
// carries the one-time flag) and the sign-in form asks for the new password.
func (s *Server) consoleChangePassword(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	current, next := c.FormValue("current_password"), c.FormValue("new_password")
	var err error
	if next != c.FormValue("new_password_again") {
		err = apperr.Field("new_password_again", "the two new passwords differ")
	} else {
		err = s.deps.Sessions.ChangePassword(ctx, p, current, next)
	}
	if err != nil {
		e, ok := apperr.As(err)
		if !ok || (e.Code != apperr.Invalid && e.Code != apperr.RateLimited) {
			return err
		}
		pr, _, _ := problemFor(err)
		if wait := retryAfter(e); wait > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(wait))
		}
		return s.renderConsolePassword(c, pr.Status, console.PasswordForm{Problem: e.Message, Field: e.Field})
	}
	s.audit(c, p, "console.password_change", p.UserID, nil, nil)
	if err := s.deps.Sessions.Logout(ctx, p); err != nil {
		return err
	}
	s.clearConsoleCookies(c)
	if consoleWantsJSON(c) {
		return c.SendStatus(fiber.StatusNoContent)
	}
	return s.renderConsole(c, fiber.StatusOK, "login", console.Page{Title: "sign_in", Message: "password_changed"})
}
