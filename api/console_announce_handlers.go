package api

import (
	"html/template"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
)

// consoleAnnouncements lists every announcement with its status, schedule and audience.
func (s *Server) consoleAnnouncements(c *fiber.Ctx) error {
	items, err := s.deps.Announcements.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	rows := make([]console.AnnouncementRow, 0, len(items))
	for _, a := range items {
		rows = append(rows, console.AnnouncementRow{Announcement: a})
	}
	return s.renderConsole(c, fiber.StatusOK, "announcements", console.Page{Title: "announcements", Nav: "announcements", Data: rows})
}

// roleChoices are the roles the audience picker offers.
func roleChoices() []string {
	out := make([]string, 0, len(auth.AllRoles))
	for _, r := range auth.AllRoles {
		out = append(out, string(r))
	}
	return out
}

// consoleComposeForm shows an empty compose form.
func (s *Server) consoleComposeForm(c *fiber.Ctx) error {
	return s.renderCompose(c, fiber.StatusOK, console.Compose{Draft: console.Draft{Importance: announce.Normal}})
}

func (s *Server) renderCompose(c *fiber.Ctx, status int, data console.Compose) error {
	data.RoleChoices = roleChoices()
	images, origins, err := s.consoleImageURLs(c, data.Draft.CoverImage)
	if err != nil {
		return err
	}
	data.Images = images
	// The live preview shows inline images inserted after the page loaded: allow their origin.
	if origins, err = s.withInlineImageOrigin(c, origins); err != nil {
		return err
	}
	return s.renderWithImages(c, status, "announce_compose", console.Page{Title: "compose", Nav: "announcements", Data: data}, origins)
}

// consoleCompose answers the compose (and edit) form's "Preview" and "Review" buttons without
// storing the announcement: it uploads a chosen cover image, renders the body with the announcement
// service's renderer and sanitizer and estimates the audience's reach with the directory's
// audience rules; "Review" then shows the confirmation, which posts to consoleCreateAnnouncement.
func (s *Server) consoleCompose(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	var data console.Compose
	if c.Params("announcement_id") != "" { // the edit form of a stored announcement
		target, err := s.editTarget(c)
		if err != nil {
			return err
		}
		data.EditID, data.Published = target.EditID, target.Published
	}
	data.Draft = consoleDraft(c)
	if data.Published {
		data.Draft.PublishAt = ""
	}
	refuse := func(err error) error {
		msg, field, status, ok := formProblem(err)
		if !ok {
			return err
		}
		data.Problem, data.Field, data.Review = msg, field, false
		return s.renderCompose(c, status, data)
	}
	key, err := s.consoleImage(c, "cover")
	if err != nil {
		return refuse(err)
	}
	if key != "" {
		data.Draft.CoverImage = key
	}
	// Each part is checked on its own, so that a half-written draft still shows what can be shown.
	var first error
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	if _, err := draftInput(data.Draft); err != nil {
		note(err)
	}
	if html, err := s.deps.Announcements.Preview(ctx, p, data.Draft.Body); err != nil {
		note(err)
	} else {
		data.Preview = template.HTML(html) // sanitized by the announcement service's policy
	}
	if est, err := s.deps.Announcements.EstimateReach(ctx, p, draftAudience(data.Draft)); err != nil {
		note(err)
	} else {
		data.Estimate = est
	}
	if first != nil {
		return refuse(first)
	}
	data.Review = c.FormValue("step") == "review"
	return s.renderCompose(c, fiber.StatusOK, data)
}

// consolePreviewBody renders a Markdown body with the announcement service's renderer and
// sanitizer and answers the HTML fragment alone: the compose form's live preview
// (static/announce-preview.js) fetches it while ops type.
func (s *Server) consolePreviewBody(c *fiber.Ctx) error {
	html, err := s.deps.Announcements.Preview(c.UserContext(), principal(c), formText(c, "body"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSP)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(html)
}

// consoleCreateAnnouncement creates the confirmed announcement through the announcement
// service (published now, or scheduled for its publish_at) and audits it.
func (s *Server) consoleCreateAnnouncement(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	d := consoleDraft(c)
	in, err := draftInput(d)
	var a *announce.Announcement
	if err == nil {
		a, err = s.deps.Announcements.Create(ctx, p, in)
	}
	if err != nil {
		msg, field, status, ok := formProblem(err)
		if !ok {
			return err
		}
		return s.renderCompose(c, status, console.Compose{Draft: d, Problem: msg, Field: field})
	}
	s.audit(c, p, "announcement.create", a.ID, nil, a)
	return consoleDone(c, "/console/announcements/"+a.ID)
}

// consoleAnnouncement shows one announcement with its reach: audience, pushed devices, reads
// and acknowledgements by department, and the remind and withdraw buttons.
func (s *Server) consoleAnnouncement(c *fiber.Ctx) error {
	return s.renderAnnouncement(c, fiber.StatusOK, console.AnnouncementDetail{})
}

func (s *Server) renderAnnouncement(c *fiber.Ctx, status int, data console.AnnouncementDetail) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("announcement_id")
	a, err := s.deps.Announcements.Get(ctx, p, id)
	if err != nil {
		return err
	}
	st, err := s.deps.Announcements.Stats(ctx, p, id)
	if err != nil {
		return err
	}
	data.Announcement, data.Stats = *a, st
	data.BodyHTML = template.HTML(a.BodyHTML) // sanitized when it was written
	if n, err := strconv.Atoi(c.Query("reminded")); err == nil && data.Reminder == nil {
		data.Reminder = &announce.Reminder{Recipients: n}
	}
	var cover string
	if a.CoverImage != nil {
		cover = *a.CoverImage
	}
	images, origins, err := s.consoleImageURLs(c, cover)
	if err != nil {
		return err
	}
	data.Images = images
	if origins, err = s.withInlineImageOrigin(c, origins); err != nil { // the body's inline images
		return err
	}
	return s.renderWithImages(c, status, "announcement", console.Page{Title: "announcements", Nav: "announcements", Data: data}, origins)
}

// consoleRemindAnnouncement pushes the announcement again to its audience users who have not
// read it (the service allows one reminder a day) and audits the reminder.
func (s *Server) consoleRemindAnnouncement(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("announcement_id")
	r, err := s.deps.Announcements.Remind(ctx, p, id)
	if err != nil {
		msg, _, status, ok := formProblem(err)
		if !ok || status == fiber.StatusNotFound {
			return err
		}
		return s.renderAnnouncement(c, status, console.AnnouncementDetail{Problem: msg})
	}
	s.audit(c, p, "announcement.remind", id, nil, r)
	return consoleDone(c, "/console/announcements/"+id+"?reminded="+strconv.Itoa(r.Recipients))
}

// consoleWithdrawAnnouncement takes the announcement down and audits it before and after.
func (s *Server) consoleWithdrawAnnouncement(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("announcement_id")
	before, err := s.deps.Announcements.Get(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Announcements.Withdraw(ctx, p, id)
	if err != nil {
		msg, _, status, ok := formProblem(err)
		if !ok || status == fiber.StatusNotFound {
			return err
		}
		return s.renderAnnouncement(c, status, console.AnnouncementDetail{Problem: msg})
	}
	s.audit(c, p, "announcement.withdraw", id, before, after)
	return consoleDone(c, "/console/announcements/"+id)
}
