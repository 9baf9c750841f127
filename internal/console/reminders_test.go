package console

import (
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
)

func TestReminderMessagesHaveEveryLocale(t *testing.T) {
	for key, m := range remindersMessages {
		for _, loc := range i18n.Locales {
			if strings.TrimSpace(m[string(loc)]) == "" {
				t.Errorf("message %q has no %s text", key, loc)
			}
		}
	}
}

// The reminder policies screen lists the policies, fills the form with one and marks the field
// the service refused.
func TestReminderPoliciesRender(t *testing.T) {
	p := approval.ReminderPolicy{FlowCode: "EXP", RemindAfterHours: 4.5, MaxReminders: 3, EscalateTo: []string{"E1", "E2"}}
	data := ReminderPolicies{Items: []approval.ReminderPolicy{p}, Form: ReminderFormOf(p), Problem: "max_reminders must be 0 to 20", Field: "max_reminders"}
	for _, loc := range []string{"zh-CN", "en"} {
		b, err := Render("approvals_reminders", Page{Locale: loc, Title: "reminder_policies", Nav: "approvals",
			Viewer: &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleOps}}, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		for _, want := range []string{`id="policy-EXP"`, `<td>4.5 h</td>`, `<td>E1, E2</td>`, `name="remind_after_hours" value="4.5"`,
			`name="escalate_to" value="E1, E2"`, `name="max_reminders" value="3" min="0" step="any" aria-invalid="true"`, `role="alert"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %s:\n%s", loc, want, page)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "style=") {
			t.Errorf("%s: a script or an inline style", loc)
		}
	}
}
