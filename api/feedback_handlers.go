package api

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/feedback"
)

// exportTimeout bounds a CSV export's database cursor once the response has started streaming.
const exportTimeout = 5 * time.Minute

// page answers a list page in the common shape.
func page[T any](c *fiber.Ctx, items []T, next string) error {
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"items": nonNil(items), "next_cursor": cursor})
}

// feedbackFilter reads the ops list and export filters from the query string.
func feedbackFilter(c *fiber.Ctx) (feedback.Filter, error) {
	f := feedback.Filter{
		Status: c.Query("status"), Category: c.Query("category"), AppID: c.Query("app_id"),
		Channel: c.Query("channel"), Department: c.Query("department"), AssigneeID: c.Query("assignee_id"),
		Q: strings.TrimSpace(c.Query("q")), From: c.Query("from"), To: c.Query("to"), Cursor: c.Query("cursor"),
	}
	if v := c.Query("build"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return f, apperr.Field("build", "build must be a whole number")
		}
		f.Build = &n
	}
	limit, err := queryLimit(c, feedback.MaxLimit)
	f.Limit = limit
	return f, err
}

func (s *Server) listMyFeedback(c *fiber.Ctx) error {
	limit, err := queryLimit(c, feedback.MaxLimit)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Feedback.Mine(c.UserContext(), principal(c), limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	return page(c, items, next)
}

func (s *Server) getFeedback(c *fiber.Ctx) error {
	f, err := s.deps.Feedback.Get(c.UserContext(), principal(c), c.Params("feedback_id"))
	if err != nil {
		return err
	}
	return c.JSON(f)
}

func (s *Server) meToo(on bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.deps.Feedback.MeToo(c.UserContext(), principal(c), c.Params("feedback_id"), on)
		if err != nil {
			return err
		}
		return c.JSON(f)
	}
}

// feedbackAttachment redirects to a short-lived presigned URL of the photo; a client asking for
// JSON gets the URL and its expiry instead, like the image endpoint.
func (s *Server) feedbackAttachment(c *fiber.Ctx) error {
	u, expires, err := s.deps.Feedback.AttachmentURL(c.UserContext(), principal(c), c.Params("attachment_id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	if strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON) {
		return c.JSON(fiber.Map{"url": u.String(), "expires_at": expires.UTC().Format(time.RFC3339)})
	}
	return c.Redirect(u.String(), fiber.StatusFound)
}

func (s *Server) listOpsFeedback(c *fiber.Ctx) error {
	f, err := feedbackFilter(c)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Feedback.List(c.UserContext(), principal(c), f)
	if err != nil {
		return err
	}
	return page(c, items, next)
}

func (s *Server) getOpsFeedback(c *fiber.Ctx) error {
	f, err := s.deps.Feedback.OpsGet(c.UserContext(), principal(c), c.Params("feedback_id"))
	if err != nil {
		return err
	}
	return c.JSON(f)
}

func (s *Server) updateFeedback(c *fiber.Ctx) error {
	var in feedback.Update
	if err := s.bind(c, &in); err != nil {
		return err
	}
	f, err := s.deps.Feedback.Update(c.UserContext(), principal(c), c.Params("feedback_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(f)
}

func (s *Server) mergeFeedback(c *fiber.Ctx) error {
	var in struct {
		Into string `json:"into"`
	}
	if err := s.bind(c, &in); err != nil {
		return err
	}
	f, err := s.deps.Feedback.Merge(c.UserContext(), principal(c), c.Params("feedback_id"), in.Into)
	if err != nil {
		return err
	}
	return c.JSON(f)
}

func (s *Server) replyFeedback(c *fiber.Ctx) error {
	var in struct {
		Text string `json:"text"`
	}
	if err := s.bind(c, &in); err != nil {
		return err
	}
	reply, err := s.deps.Feedback.Reply(c.UserContext(), principal(c), c.Params("feedback_id"), in.Text)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(reply)
}

// exportFeedback streams the CSV follow-up table. Filters and roles are checked before the
// response starts; a failure mid-stream can only cut the body short, and is logged.
func (s *Server) exportFeedback(c *fiber.Ctx) error {
	f, err := feedbackFilter(c)
	if err != nil {
		return err
	}
	return s.streamFeedbackCSV(c, f, "feedback export failed mid-stream")
}

// streamFeedbackCSV answers with the CSV of the feedback that f selects, as feedback.csv, for
// the API's export and the console's. The service checks f and the roles before the response
// starts; a failure mid-stream can only cut the body short, and is logged as failed.
func (s *Server) streamFeedbackCSV(c *fiber.Ctx, f feedback.Filter, failed string) error {
	write, err := s.deps.Feedback.Export(c.UserContext(), principal(c), f)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="feedback.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	reqID := requestID(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		if err := write(ctx, w); err != nil {
			s.log.Error(failed, "request_id", reqID, "error", err.Error())
		}
		_ = w.Flush()
	})
	return nil
}
