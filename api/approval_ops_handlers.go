package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/clienttime"
)

func (s *Server) listDeliveries(c *fiber.Ctx) error {
	limit, err := queryLimit(c, approval.MaxDeliveriesPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 50
	}
	items, err := s.deps.ApprovalCallbacks.Deliveries(c.UserContext(), principal(c), c.Params("source"), limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) replayDelivery(c *fiber.Ctx) error {
	r, err := s.deps.ApprovalCallbacks.Replay(c.UserContext(), principal(c), c.Params("source"), c.Params("delivery_id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(r)
}

// statsRange reads the required from and to query parameters (RFC 3339 date-times).
func statsRange(c *fiber.Ctx) (from, to time.Time, err error) {
	parse := func(field string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339, c.Query(field))
		if err != nil {
			return time.Time{}, apperr.Field(field, "%s must be an RFC 3339 date-time such as 2026-03-01T00:00:00+08:00", field)
		}
		// The answer echoes both: one outside the years JSON writes failed it with a 500.
		return t, clienttime.CheckWritable(field, t)
	}
	if from, err = parse("from"); err != nil {
		return
	}
	to, err = parse("to")
	return
}

func (s *Server) approvalStats(c *fiber.Ctx) error {
	from, to, err := statsRange(c)
	if err != nil {
		return err
	}
	st, err := s.deps.ApprovalStats.Stats(c.UserContext(), principal(c), from, to)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) approvalStatsCSV(c *fiber.Ctx) error {
	from, to, err := statsRange(c)
	if err != nil {
		return err
	}
	return s.writeApprovalStatsCSV(c, from, to)
}

// writeApprovalStatsCSV answers with the approval statistics of [from, to) as
// approval-stats.csv, for the API's stats.csv and the console's.
func (s *Server) writeApprovalStatsCSV(c *fiber.Ctx, from, to time.Time) error {
	st, err := s.deps.ApprovalStats.Stats(c.UserContext(), principal(c), from, to)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="approval-stats.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return st.WriteCSV(c.Response().BodyWriter())
}

func (s *Server) listReminderPolicies(c *fiber.Ctx) error {
	items, err := s.deps.ApprovalReminders.ReminderPolicies(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

// reminderPolicyInput is the body of PUT /ops/approvals/reminder-policies/{flow_code}.
type reminderPolicyInput struct {
	RemindAfterHours   float64  `json:"remind_after_hours"`
	BeforeDueHours     float64  `json:"before_due_hours"`
	MaxReminders       int      `json:"max_reminders"`
	EscalateAfterHours float64  `json:"escalate_after_hours"`
	EscalateTo         []string `json:"escalate_to"`
}

func (s *Server) setReminderPolicy(c *fiber.Ctx) error {
	var in reminderPolicyInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	p, err := s.deps.ApprovalReminders.SetReminderPolicy(c.UserContext(), principal(c), approval.ReminderPolicy{
		FlowCode: c.Params("flow_code"), RemindAfterHours: in.RemindAfterHours, BeforeDueHours: in.BeforeDueHours,
		MaxReminders: in.MaxReminders, EscalateAfterHours: in.EscalateAfterHours, EscalateTo: in.EscalateTo,
	})
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (s *Server) deleteReminderPolicy(c *fiber.Ctx) error {
	if err := s.deps.ApprovalReminders.DeleteReminderPolicy(c.UserContext(), principal(c), c.Params("flow_code")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
