package api

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/training"
)

// The training screens (/console/training): the same training service as /v1/ops/training,
// each change audited (training.create|update|delete|retry) with the video before and after.

// consoleTrainingForm reads the create / edit form as typed.
func consoleTrainingForm(c *fiber.Ctx) console.TrainingForm {
	return console.TrainingForm{Title: c.FormValue("title"), Description: c.FormValue("description"),
		Category: c.FormValue("category"), Tags: c.FormValue("tags"), Departments: c.FormValue("departments"),
		Language: c.FormValue("language"), DueAt: strings.TrimSpace(c.FormValue("due_at")),
		Roles: consoleFormValues(c, "roles"), Required: c.FormValue("required") != ""}
}

// trainingInput turns the form into the service's input; the due date is a datetime-local
// value read as UTC.
func trainingInput(f console.TrainingForm) (training.Input, error) {
	in := training.Input{Title: f.Title, Description: f.Description, Category: f.Category, Tags: commaList(f.Tags),
		Roles: f.Roles, Departments: commaList(f.Departments), Required: f.Required, Language: f.Language}
	if in.Roles == nil {
		in.Roles = []string{}
	}
	if f.DueAt != "" && f.Required {
		due, err := time.Parse("2006-01-02T15:04", f.DueAt)
		if err != nil {
			return in, apperr.Field("due_at", "due_at must be a date and time (YYYY-MM-DDTHH:MM, UTC)")
		}
		in.DueAt = &due
	}
	return in, nil
}

func trainingRoleChoices() []string {
	out := make([]string, len(auth.AllRoles))
	for i, r := range auth.AllRoles {
		out[i] = string(r)
	}
	return out
}

// consoleTraining lists every video with the form that creates one.
func (s *Server) consoleTraining(c *fiber.Ctx) error {
	return s.renderTrainingList(c, fiber.StatusOK, console.TrainingForm{Language: i18n.Locales[0]}, "", "")
}

func (s *Server) renderTrainingList(c *fiber.Ctx, status int, f console.TrainingForm, problem, field string) error {
	videos, err := s.deps.Training.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	var origins []string
	for _, v := range videos {
		if o := originOf(v.PosterURL); o != "" && !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if err := s.renderConsole(c, status, "training", console.Page{Title: "tr_videos", Nav: "training",
		Data: console.TrainingList{Videos: videos, Form: f, Problem: problem, Field: field,
			RoleChoices: trainingRoleChoices(), Languages: i18n.Locales}}); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, console.CSPAllowingImages(console.CSP, origins...))
	return nil
}

// originOf is the scheme and host of an absolute URL ("" for none).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// consoleCreateTraining creates a video (Training.Create, as POST /v1/ops/training/videos)
// and opens its page, where the file is uploaded.
func (s *Server) consoleCreateTraining(c *fiber.Ctx) error {
	ctx, p, f := c.UserContext(), principal(c), consoleTrainingForm(c)
	in, err := trainingInput(f)
	var v *training.Video
	if err == nil {
		v, err = s.deps.Training.Create(ctx, p, in)
	}
	if err != nil {
		msg, field, status, ok := formProblem(err)
		if !ok {
			return err
		}
		return s.renderTrainingList(c, status, f, msg, field)
	}
	s.audit(c, p, "training.create", v.ID, nil, v)
	return consoleDone(c, "/console/training/videos/"+url.PathEscape(v.ID))
}

// consoleTrainingVideo shows one video: status, upload, preview, metadata and its report.
func (s *Server) consoleTrainingVideo(c *fiber.Ctx) error {
	v, err := s.deps.Training.Get(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return s.renderTrainingVideo(c, fiber.StatusOK, v, console.FormOf(v), "", "")
}

func (s *Server) renderTrainingVideo(c *fiber.Ctx, status int, v *training.Video, f console.TrainingForm, problem, field string) error {
	ctx, p := c.UserContext(), principal(c)
	d := console.TrainingVideo{Video: v, Form: f, Problem: problem, Field: field,
		RoleChoices: trainingRoleChoices(), Languages: i18n.Locales}
	// The preview plays the offline 360p MP4 through its presigned URL: Chromium plays a
	// progressive MP4 natively, not HLS. Preview serves any processed video, published or not.
	if v.Playable {
		dl, err := s.deps.Training.Preview(ctx, p, v.ID)
		if err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		if dl != nil {
			d.PreviewURL = dl.URL
		}
	}
	report, err := s.deps.Training.VideoCompletionUsers(ctx, p, v.ID, c.Query("department"))
	if err != nil {
		return err
	}
	d.Report = report
	if err := s.renderConsole(c, status, "training_video", console.Page{Title: "tr_video", Nav: "training", Data: d}); err != nil {
		return err
	}
	csp := console.CSPAllowingImages(console.CSP, originOf(v.PosterURL))
	if o := originOf(d.PreviewURL); o != "" {
		csp = console.CSPAllowing(csp, "media-src", o)
	}
	c.Set(fiber.HeaderContentSecurityPolicy, csp)
	return nil
}

// consoleUpdateTraining saves the edit form (metadata and assignment: audience, required,
// due date) through Training.Update, as PATCH /v1/ops/training/videos/{id}.
func (s *Server) consoleUpdateTraining(c *fiber.Ctx) error {
	f := consoleTrainingForm(c)
	in, err := trainingInput(f)
	if err != nil {
		return s.trainingFormRefused(c, f, err)
	}
	patch := training.Patch{Title: &in.Title, Description: &in.Description, Category: &in.Category, Tags: &in.Tags,
		Roles: &in.Roles, Departments: &in.Departments, Required: &in.Required, DueAt: in.DueAt, Language: &in.Language}
	return s.changeTraining(c, patch, &f)
}

// consolePublishTraining unpublishes a video, or publishes it again (Patch.Published).
func (s *Server) consolePublishTraining(c *fiber.Ctx) error {
	var published bool
	switch c.FormValue("published") {
	case "true":
		published = true
	case "false":
	default:
		return apperr.Field("published", "published must be true or false")
	}
	return s.changeTraining(c, training.Patch{Published: &published}, nil)
}

// changeTraining applies a patch, audits it as training.update and goes back to the video.
func (s *Server) changeTraining(c *fiber.Ctx, patch training.Patch, f *console.TrainingForm) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("video_id")
	before, err := s.deps.Training.Get(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Training.Update(ctx, p, id, patch)
	if err != nil {
		if f != nil {
			return s.trainingFormRefused(c, *f, err)
		}
		return err
	}
	s.audit(c, p, "training.update", id, before, after)
	return consoleDone(c, "/console/training/videos/"+url.PathEscape(id))
}

// trainingFormRefused shows the video's page again with the edit form as typed and the
// service's refusal, or returns err when it is not the form's fault.
func (s *Server) trainingFormRefused(c *fiber.Ctx, f console.TrainingForm, err error) error {
	msg, field, status, ok := formProblem(err)
	if !ok {
		return err
	}
	v, gerr := s.deps.Training.Get(c.UserContext(), principal(c), c.Params("video_id"))
	if gerr != nil {
		return gerr
	}
	return s.renderTrainingVideo(c, status, v, f, msg, field)
}

// consoleRetryTraining queues a failed video again (Training.Retry).
func (s *Server) consoleRetryTraining(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("video_id")
	before, err := s.deps.Training.Get(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Training.Retry(ctx, p, id)
	if err != nil {
		return err
	}
	s.audit(c, p, "training.retry", id, before, after)
	return consoleDone(c, "/console/training/videos/"+url.PathEscape(id))
}

// consoleDeleteTraining deletes a video and its objects (Training.Delete) once the
// confirmation box is ticked.
func (s *Server) consoleDeleteTraining(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("video_id")
	if c.FormValue("confirm") == "" {
		return apperr.Field("confirm", "tick the confirmation to delete the video")
	}
	before, err := s.deps.Training.Get(ctx, p, id)
	if err != nil {
		return err
	}
	if err := s.deps.Training.Delete(ctx, p, id); err != nil {
		return err
	}
	s.audit(c, p, "training.delete", id, before, nil)
	return consoleDone(c, "/console/training")
}

// consoleTrainingCSV is the video's completion report as CSV (Training.WriteCompletionCSV, as
// GET /v1/ops/training/report.csv?video_id=), for the console's cookie.
func (s *Server) consoleTrainingCSV(c *fiber.Ctx) error {
	return s.sendTrainingCompletionCSV(c, c.Params("video_id"))
}
