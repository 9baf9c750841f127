package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/console"
)

// consoleEditAnnouncementForm shows the compose form filled with a stored announcement, for
// editing it through the service of PATCH /v1/ops/announcements/{id}: a scheduled one in full,
// a published one except its publish time (the API's rule). A withdrawn one cannot be edited.
func (s *Server) consoleEditAnnouncementForm(c *fiber.Ctx) error {
	data, err := s.editTarget(c)
	if err != nil {
		return err
	}
	return s.renderCompose(c, fiber.StatusOK, data)
}

// editTarget is the compose screen of the announcement of the route, before any field is read
// from the form: which announcement, and whether it is already published.
func (s *Server) editTarget(c *fiber.Ctx) (console.Compose, error) {
	a, err := s.deps.Announcements.Get(c.UserContext(), principal(c), c.Params("announcement_id"))
	if err != nil {
		return console.Compose{}, err
	}
	return console.Compose{Draft: console.DraftOf(*a), EditID: a.ID, Published: a.Status != announce.StatusScheduled}, nil
}

// editInput is the edit form as the announcement service's Update takes it: every field, with
// an emptied publish time meaning now, an emptied expiry removed and, for a published
// announcement, no publish time.
func editInput(d console.Draft, published bool) (announce.Input, error) {
	if published {
		d.PublishAt = ""
	}
	in, err := draftInput(d)
	if err != nil {
		return in, err
	}
	if !published && !in.PublishAt.Set { // an emptied publish time publishes now, as in the compose form
		in.PublishAt = announce.Optional[time.Time]{Set: true}
	}
	if !in.ExpiresAt.Set {
		in.ExpiresAt = announce.Optional[time.Time]{Set: true}
	}
	if d.CoverImage == "" {
		in.CoverImage = announce.Optional[string]{Set: true}
	}
	return in, nil
}

// consoleUpdateAnnouncement saves the confirmed edit through the announcement service's Update
// (what PATCH /v1/ops/announcements/{id} calls) and audits it before and after; a value the
// service refuses shows the form again with the service's message on its field.
func (s *Server) consoleUpdateAnnouncement(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	data, err := s.editTarget(c)
	if err != nil {
		return err
	}
	before, err := s.deps.Announcements.Get(ctx, p, data.EditID)
	if err != nil {
		return err
	}
	data.Draft = consoleDraft(c)
	in, err := editInput(data.Draft, data.Published)
	var after *announce.Announcement
	if err == nil {
		after, err = s.deps.Announcements.Update(ctx, p, data.EditID, in)
	}
	if err != nil {
		msg, field, status, ok := formProblem(err)
		if !ok || (status == fiber.StatusNotFound && field == "") {
			return err
		}
		data.Problem, data.Field = msg, field
		return s.renderCompose(c, status, data)
	}
	s.audit(c, p, "announcement.update", after.ID, before, after)
	return consoleDone(c, "/console/announcements/"+after.ID)
}
