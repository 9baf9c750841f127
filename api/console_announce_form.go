package api

import (
	"io"
	"mime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
)

// consoleOps shows the "not allowed" page on the announcements, banners and what's-new screens
// to users without role ops: the API lets only ops manage them, and the services check again.
func (s *Server) consoleOps(c *fiber.Ctx) error {
	if !principal(c).HasRole(auth.RoleOps) {
		return s.renderConsole(c, fiber.StatusForbidden, "denied", console.Page{Title: "denied"})
	}
	return c.Next()
}

// isMultipart reports whether the request body is multipart/form-data (a form with a file).
func isMultipart(c *fiber.Ctx) bool {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	return err == nil && strings.EqualFold(mt, fiber.MIMEMultipartForm)
}

// consoleChangeOrUpload is consoleChange for the forms that may carry an image
// (multipart/form-data): the same anti-forgery token and same-origin checks.
func (s *Server) consoleChangeOrUpload(c *fiber.Ctx) error {
	if !isMultipart(c) {
		return s.consoleChange(c)
	}
	if !s.validConsolePost(c) {
		return apperr.New(apperr.Forbidden, "the form has expired: reload the page and submit it again")
	}
	return c.Next()
}

// consoleFormValues returns every value of a form field (checkboxes), from either encoding.
func consoleFormValues(c *fiber.Ctx, name string) []string {
	if isMultipart(c) {
		if form, err := c.MultipartForm(); err == nil {
			return form.Value[name]
		}
		return nil
	}
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

// consoleImage uploads the image of a form's file field through the announcement service's
// image upload (the one behind POST /v1/ops/images) and returns its key; "" when no file was
// chosen.
func (s *Server) consoleImage(c *fiber.Ctx, field string) (string, error) {
	if !isMultipart(c) {
		return "", nil
	}
	form, err := c.MultipartForm()
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "the form's files cannot be read")
	}
	files := form.File[field]
	if len(files) == 0 || files[0].Size == 0 {
		return "", nil
	}
	fh := files[0]
	if fh.Size > announce.MaxImageSize {
		return "", apperr.New(apperr.TooLarge, "%s is over %d bytes", field, announce.MaxImageSize)
	}
	f, err := fh.Open()
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "%s cannot be read", field)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return "", apperr.Wrap(err, apperr.Invalid, "%s cannot be read", field)
	}
	return s.deps.Announcements.UploadImage(c.UserContext(), principal(c), fh.Header.Get(fiber.HeaderContentType), data)
}

// consoleTime reads a date and time field of a console form (UTC); nil when it is empty.
func consoleTime(field, v string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{console.DateTimeLocal, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, apperr.Field(field, "%s must be a date and time such as 2031-05-04T08:00 (UTC)", field)
}

// formText reads a multi-line form field with the line ends the author typed: browsers send a
// textarea's line ends as CRLF (HTML's form encoding), the API's clients as LF.
func formText(c *fiber.Ctx, name string) string {
	return strings.ReplaceAll(c.FormValue(name), "\r\n", "\n")
}

// consoleDraft reads the compose form.
func consoleDraft(c *fiber.Ctx) console.Draft {
	return console.Draft{
		Title: c.FormValue("title"), Body: formText(c, "body"), Importance: c.FormValue("importance"),
		PublishAt: c.FormValue("publish_at"), ExpiresAt: c.FormValue("expires_at"),
		Pinned: c.FormValue("pinned") != "", All: c.FormValue("all") != "", Roles: consoleFormValues(c, "roles"),
		Departments: c.FormValue("departments"), Channels: c.FormValue("channels"), UserIDs: c.FormValue("user_ids"),
		CoverImage: c.FormValue("cover_image"),
	}
}

// draftAudience is the draft's audience as the announcement service takes it.
func draftAudience(d console.Draft) announce.Audience {
	return announce.Audience{All: d.All, Roles: d.Roles, Departments: console.SplitList(d.Departments),
		Channels: console.SplitList(d.Channels), UserIDs: console.SplitList(d.UserIDs)}
}

// draftInput is the draft as the announcement service's Create takes it (what POST
// /v1/ops/announcements decodes).
func draftInput(d console.Draft) (announce.Input, error) {
	title, body, aud, pinned := d.Title, d.Body, draftAudience(d), d.Pinned
	in := announce.Input{Title: &title, Body: &body, Audience: &aud, Pinned: &pinned}
	if d.Importance != "" {
		in.Importance = &d.Importance
	}
	publishAt, err := consoleTime("publish_at", d.PublishAt)
	if err != nil {
		return in, err
	}
	if publishAt != nil {
		in.PublishAt = announce.Optional[time.Time]{Set: true, Value: publishAt}
	}
	expiresAt, err := consoleTime("expires_at", d.ExpiresAt)
	if err != nil {
		return in, err
	}
	if expiresAt != nil {
		in.ExpiresAt = announce.Optional[time.Time]{Set: true, Value: expiresAt}
	}
	if d.CoverImage != "" {
		in.CoverImage = announce.Optional[string]{Set: true, Value: &d.CoverImage}
	}
	return in, nil
}

// formProblem turns a refusal the user can fix (a bad value, a conflict, a file too large or of
// the wrong type) into the message and status of the form shown again; ok is false for any
// other error, which goes to the error handler.
func formProblem(err error) (msg, field string, status int, ok bool) {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.TooLarge, apperr.UnsupportedMedia, apperr.NotFound:
		p, e, _ := problemFor(err)
		return e.Message, e.Field, p.Status, true
	}
	return "", "", 0, false
}
