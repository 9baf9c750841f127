package api

import (
	"context"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/feedback"
)

// consoleFeedbackPage is the number of feedback items per page of the triage table.
const consoleFeedbackPage = 50

// consoleFeedbackFilter reads the triage table's filter form (the same filter as
// GET /v1/ops/feedback, with the received dates as YYYY-MM-DD).
func consoleFeedbackFilter(c *fiber.Ctx) (console.FeedbackFilter, feedback.Filter) {
	form := console.FeedbackFilter{
		Status: c.Query("status"), Category: c.Query("category"), Department: strings.TrimSpace(c.Query("department")),
		AppID: c.Query("app_id"), Q: strings.TrimSpace(c.Query("q")), From: c.Query("from"), To: c.Query("to"),
	}
	return form, feedback.Filter{Status: form.Status, Category: form.Category, Department: form.Department,
		AppID: form.AppID, Q: form.Q, From: form.From, To: form.To, Cursor: c.Query("cursor")}
}

// consoleFeedback is the feedback triage table: filters, search and paging, through the same
// List as GET /v1/ops/feedback.
func (s *Server) consoleFeedback(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	form, f := consoleFeedbackFilter(c)
	f.Limit = consoleFeedbackPage
	items, next, err := s.deps.Feedback.List(ctx, p, f)
	if err != nil {
		return err
	}
	apps, err := s.deps.Releases.ListApps(ctx, p)
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "feedback", console.Page{Title: "feedback", Nav: "feedback",
		Data: console.FeedbackList{Filter: form, Items: items, Next: next, Paged: f.Cursor != "", Apps: apps,
			Statuses: feedback.Statuses, Categories: feedback.Categories}})
}

// consoleFeedbackCSV exports the feedback of the table's filter as CSV, through the same
// Export as GET /v1/ops/feedback/export.csv (formula cells defused there).
func (s *Server) consoleFeedbackCSV(c *fiber.Ctx) error {
	_, f := consoleFeedbackFilter(c)
	f.Cursor = ""
	return s.streamFeedbackCSV(c, f, "console feedback export failed mid-stream")
}

// consoleFeedbackDetail shows one feedback with its photos (short-lived presigned URLs from
// the feedback service, whose MinIO origin the page's CSP then allows as an image source), the
// conversation and the triage forms.
func (s *Server) consoleFeedbackDetail(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	item, err := s.deps.Feedback.OpsGet(ctx, p, c.Params("feedback_id"))
	if err != nil {
		return err
	}
	var origins []string
	photos := make([]console.Photo, 0, len(item.Attachments))
	for _, a := range item.Attachments {
		ph := console.Photo{Attachment: a}
		if a.Status == feedback.AttachmentComplete {
			u, _, err := s.deps.Feedback.AttachmentURL(ctx, p, a.ID)
			if err != nil {
				return err
			}
			ph.URL = u.String()
			if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
		photos = append(photos, ph)
	}
	assignees, err := s.consoleAssignees(ctx, p, item.AssigneeID)
	if err != nil {
		return err
	}
	statuses := feedback.NextStatuses(item.Status)
	if err := s.renderConsole(c, fiber.StatusOK, "feedback_detail", console.Page{Title: "feedback_item", Nav: "feedback",
		Data: console.FeedbackDetail{Item: item, Photos: photos, Statuses: statuses, Assignees: assignees}}); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSPAllowingImages(console.CSP, origins...))
	return nil
}

// consoleAssignees are the people the viewer may assign feedback to: every active ops and admin
// user for admins (who may read the directory); for ops, themselves and the current assignee.
func (s *Server) consoleAssignees(ctx context.Context, p *auth.Principal, current string) ([]console.Person, error) {
	people := []console.Person{}
	add := func(id, name string) {
		if id != "" && !slices.ContainsFunc(people, func(x console.Person) bool { return x.ID == id }) {
			people = append(people, console.Person{ID: id, Name: name})
		}
	}
	if p.HasRole(auth.RoleAdmin) {
		for _, role := range []auth.Role{auth.RoleOps, auth.RoleAdmin} {
			users, _, err := s.deps.Directory.List(ctx, p, directory.ListFilter{Role: string(role), Status: directory.StatusActive, Limit: directory.MaxListLimit})
			if err != nil {
				return nil, err
			}
			for _, u := range users {
				add(u.ID, u.Name+" ("+u.EmployeeNo+")")
			}
		}
	}
	if me, err := s.deps.Directory.Me(ctx, p.UserID); err == nil {
		add(me.ID, me.Name+" ("+me.EmployeeNo+")")
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	add(current, current)
	return people, nil
}

// consoleFeedbackDone goes back to the feedback's detail page.
func consoleFeedbackDone(c *fiber.Ctx) error {
	return consoleDone(c, "/console/feedback/"+c.Params("feedback_id"))
}

// triageState is what the audit log keeps of feedback before and after a triage change.
func triageState(f *feedback.Feedback) map[string]string {
	if f == nil {
		return nil
	}
	return map[string]string{"status": f.Status, "assignee_id": f.AssigneeID, "resolution": f.Resolution, "duplicate_of": f.DuplicateOf}
}

// consoleUpdateFeedback changes the status, assignee and resolution through the same Update as
// PATCH /v1/ops/feedback/{id}, audited before and after. Fields left out of the form are not
// changed.
func (s *Server) consoleUpdateFeedback(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("feedback_id")
	var in feedback.Update
	form := c.Request().PostArgs()
	for field, dst := range map[string]**string{"status": &in.Status, "assignee_id": &in.AssigneeID, "resolution": &in.Resolution} {
		if form.Has(field) {
			v := string(form.Peek(field))
			*dst = &v
		}
	}
	if in.Status == nil && in.AssigneeID == nil && in.Resolution == nil {
		return apperr.Field("status", "the form changes nothing: send status, assignee_id or resolution")
	}
	before, err := s.deps.Feedback.OpsGet(ctx, p, id)
	if err != nil {
		return err
	}
	if in.Status != nil && *in.Status == before.Status {
		// The form keeps the status (duplicate, say, which only a merge sets): not a change.
		in.Status = nil
	}
	after, err := s.deps.Feedback.Update(ctx, p, id, in)
	if err != nil {
		return err
	}
	s.audit(c, p, "feedback.update", id, triageState(before), triageState(after))
	return consoleFeedbackDone(c)
}

// consoleMergeFeedback marks the feedback a duplicate of another through the same Merge as
// POST /v1/ops/feedback/{id}/merge, audited.
func (s *Server) consoleMergeFeedback(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("feedback_id")
	into := strings.TrimSpace(c.FormValue("into"))
	if into == "" {
		return apperr.Field("into", "into must be the id of the feedback this one duplicates")
	}
	before, err := s.deps.Feedback.OpsGet(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Feedback.Merge(ctx, p, id, into)
	if err != nil {
		return err
	}
	s.audit(c, p, "feedback.merge", id, triageState(before), triageState(after))
	return consoleFeedbackDone(c)
}

// consoleReplyFeedback adds an ops reply through the same Reply as
// POST /v1/ops/feedback/{id}/replies (the author gets it on the next pull and as a push),
// audited with the reply.
func (s *Server) consoleReplyFeedback(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("feedback_id")
	reply, err := s.deps.Feedback.Reply(ctx, p, id, c.FormValue("text"))
	if err != nil {
		return err
	}
	s.audit(c, p, "feedback.reply", id, nil, reply)
	return consoleFeedbackDone(c)
}
