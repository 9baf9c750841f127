package console

import (
	"strconv"
	"strings"

	"github.com/mportal/mportal/internal/approval"
)

// ReminderPolicies is the approval reminder policies screen: every flow's policy and the form
// that sets one (filled with a flow's policy to change it).
type ReminderPolicies struct {
	Items []approval.ReminderPolicy
	Form  ReminderForm
	// Problem is why the service refused the form, and Field the form field it names.
	Problem, Field string
}

// ReminderForm is the policy form as typed: every field a string, so that a form sent back
// with an error shows exactly what was typed.
type ReminderForm struct {
	FlowCode, RemindAfterHours, BeforeDueHours, MaxReminders, EscalateAfterHours, EscalateTo string
}

// ReminderFormOf is a stored policy as the form shows it.
func ReminderFormOf(p approval.ReminderPolicy) ReminderForm {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return ReminderForm{FlowCode: p.FlowCode, RemindAfterHours: f(p.RemindAfterHours), BeforeDueHours: f(p.BeforeDueHours),
		MaxReminders: strconv.Itoa(p.MaxReminders), EscalateAfterHours: f(p.EscalateAfterHours), EscalateTo: strings.Join(p.EscalateTo, ", ")}
}

// Hours shows a number of hours of a policy; "–" for 0 (off).
func (ReminderPolicies) Hours(v float64) string {
	if v == 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " h"
}

// ReminderInput is one field of the policy form: L is the locale, Invalid marks the field the
// service refused.
type ReminderInput struct {
	L, Name, Type, Value string
	Invalid              bool
}

// Input is the form field name, of input type typ, showing value.
func (r ReminderPolicies) Input(locale, name, typ, value string) ReminderInput {
	return ReminderInput{L: locale, Name: name, Type: typ, Value: value, Invalid: r.Field == name}
}
