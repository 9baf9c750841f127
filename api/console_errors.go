package api

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/console"
)

// consoleErrorPage answers an error of a console page or form post as a console page (layout,
// message, back link, the console's CSP) with the status of the API's one error mapping
// (problemFor, through errorHandler), instead of a problem document the browser would show raw.
// The console's scripts keep their problem documents: requests that ask for JSON (the upload
// scripts), that carry the anti-forgery header or speak tus (training.js). It reports whether it
// answered; it does not when the page itself cannot be rendered, and the problem is sent instead.
func (s *Server) consoleErrorPage(c *fiber.Ctx, p Problem) bool {
	if !strings.HasPrefix(c.Path(), "/console/") || consoleWantsJSON(c) ||
		c.Get("X-CSRF-Token") != "" || c.Get("Tus-Resumable") != "" {
		return false
	}
	title := "err_" + p.Code
	if !console.HasMessage(title) {
		title = "error"
	}
	err := s.renderConsole(c, p.Status, "error", console.Page{Title: title, Data: console.ErrorData{
		Status: p.Status, Code: p.Code, Detail: p.Detail, Field: p.Field, RequestID: p.RequestID, Back: s.consoleBack(c),
	}})
	return err == nil
}

// consoleBack is where the error page's back link goes: the console page the request came from
// (Referer, same site), else the dashboard.
func (s *Server) consoleBack(c *fiber.Ctx) string {
	ref, err := url.Parse(c.Get(fiber.HeaderReferer))
	if err != nil || !strings.HasPrefix(ref.Path, "/console/") || (ref.Host != "" && ref.Host != c.Hostname()) {
		return "/console/"
	}
	back := ref.EscapedPath()
	if ref.RawQuery != "" {
		back += "?" + ref.RawQuery
	}
	return back
}
