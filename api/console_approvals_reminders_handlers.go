package api

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/console"
)

// consoleReminderPolicies is the approval reminder policies screen (ops and admins): every
// flow's policy through the same ReminderPolicies as GET /v1/ops/approvals/reminder-policies,
// and the form that sets one, filled with the policy of ?flow= to change it.
func (s *Server) consoleReminderPolicies(c *fiber.Ctx) error {
	return s.renderReminderPolicies(c, fiber.StatusOK, console.ReminderPolicies{}, c.Query("flow"))
}

func (s *Server) renderReminderPolicies(c *fiber.Ctx, status int, data console.ReminderPolicies, flow string) error {
	items, err := s.deps.ApprovalReminders.ReminderPolicies(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	data.Items = items
	if i := slices.IndexFunc(items, func(p approval.ReminderPolicy) bool { return p.FlowCode == flow }); i >= 0 && flow != "" {
		data.Form = console.ReminderFormOf(items[i])
	}
	return s.renderConsole(c, status, "approvals_reminders", console.Page{Title: "reminder_policies", Nav: "approvals", Data: data})
}

// reminderForm reads the policy form; a number that is not one is invalid, naming its field.
func reminderForm(c *fiber.Ctx) (console.ReminderForm, approval.ReminderPolicy, error) {
	f := console.ReminderForm{FlowCode: strings.TrimSpace(c.FormValue("flow_code")), RemindAfterHours: c.FormValue("remind_after_hours"),
		BeforeDueHours: c.FormValue("before_due_hours"), MaxReminders: c.FormValue("max_reminders"),
		EscalateAfterHours: c.FormValue("escalate_after_hours"), EscalateTo: c.FormValue("escalate_to")}
	p := approval.ReminderPolicy{FlowCode: f.FlowCode, EscalateTo: console.SplitList(f.EscalateTo)}
	for _, n := range []struct {
		field, v string
		to       *float64
	}{{"remind_after_hours", f.RemindAfterHours, &p.RemindAfterHours}, {"before_due_hours", f.BeforeDueHours, &p.BeforeDueHours},
		{"escalate_after_hours", f.EscalateAfterHours, &p.EscalateAfterHours}} {
		if v := strings.TrimSpace(n.v); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return f, p, apperr.Field(n.field, "%s must be a number of hours", n.field)
			}
			*n.to = x
		}
	}
	if v := strings.TrimSpace(f.MaxReminders); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil {
			return f, p, apperr.Field("max_reminders", "max_reminders must be a whole number")
		}
		p.MaxReminders = x
	}
	return f, p, nil
}

// consoleSetReminderPolicy creates or replaces a flow's policy through the same
// SetReminderPolicy as PUT /v1/ops/approvals/reminder-policies/{flow_code}, audited
// (approval.reminder_policy.set, before and after); a value the service refuses shows the form
// again, as typed, with the reason on its field.
func (s *Server) consoleSetReminderPolicy(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	form, in, err := reminderForm(c)
	var before, after *approval.ReminderPolicy
	if err == nil {
		before, err = s.reminderPolicy(c, in.FlowCode)
	}
	if err == nil {
		after, err = s.deps.ApprovalReminders.SetReminderPolicy(ctx, p, in)
	}
	if err != nil {
		msg, field, status, ok := formProblem(err)
		if !ok {
			return err
		}
		return s.renderReminderPolicies(c, status, console.ReminderPolicies{Form: form, Problem: msg, Field: field}, "")
	}
	s.audit(c, p, "approval.reminder_policy.set", after.FlowCode, before, after)
	return consoleDone(c, "/console/approvals/reminders")
}

// reminderPolicy is the current policy of flow, nil when it has none (for the audit's before).
func (s *Server) reminderPolicy(c *fiber.Ctx, flow string) (*approval.ReminderPolicy, error) {
	items, err := s.deps.ApprovalReminders.ReminderPolicies(c.UserContext(), principal(c))
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(items, func(p approval.ReminderPolicy) bool { return p.FlowCode == flow }); i >= 0 {
		return &items[i], nil
	}
	return nil, nil
}

// consoleDeleteReminderPolicy removes a flow's policy through the same DeleteReminderPolicy as
// DELETE /v1/ops/approvals/reminder-policies/{flow_code}, audited
// (approval.reminder_policy.delete, with the policy before).
func (s *Server) consoleDeleteReminderPolicy(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	flow := c.Params("flow_code")
	before, err := s.reminderPolicy(c, flow)
	if err != nil {
		return err
	}
	if err := s.deps.ApprovalReminders.DeleteReminderPolicy(ctx, p, flow); err != nil {
		return err
	}
	s.audit(c, p, "approval.reminder_policy.delete", flow, before, nil)
	return consoleDone(c, "/console/approvals/reminders")
}
