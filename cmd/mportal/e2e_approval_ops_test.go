package main

import (
	"strings"
	"testing"
)

// TestApprovalOperations covers the ops side of approvals end to end: statistics (JSON and
// CSV) for ops and not for employees, reminder policies, and the callback delivery log and
// replay for admins.
func TestApprovalOperations(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	_, alice := ts.newEmployee(admin, "E5001", "Sales")
	const march = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"

	t.Run("ops read statistics, employees are refused", func(t *testing.T) {
		ts := ts.with(t)
		var st struct {
			Total             struct{ Tasks int }
			Flows, Nodes      []any
			HighestRejectRate *struct{} `json:"highest_reject_rate"`
		}
		ts.must(ts.call("GET", "/v1/ops/approvals/stats?"+march, ops, nil), 200).json(t, &st)
		if st.Total.Tasks != 0 || len(st.Flows) != 0 || st.HighestRejectRate != nil {
			t.Errorf("stats of an empty month: %+v", st)
		}
		r := ts.must(ts.call("GET", "/v1/ops/approvals/stats.csv?"+march, ops, nil), 200)
		if !strings.HasPrefix(string(r.body), "level,flow_code,flow_name,node_id,node_name,tasks,") ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Errorf("csv: %s %q", r.header, r.body)
		}
		ts.must(ts.call("GET", "/v1/ops/approvals/stats?"+march, alice, nil), 403)
		ts.must(ts.call("GET", "/v1/ops/approvals/stats.csv?"+march, alice, nil), 403)
		for _, q := range []struct{ query, field string }{
			{"from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to"},
			{"from=2025-01-01T00:00:00Z&to=2026-04-01T00:00:00Z", "to"},
			// The year 10000 in UTC: the answer, which echoes both, failed with a 500.
			{"from=9999-12-31T20:00:00-05:00&to=9999-12-31T23:00:00-05:00", "from"},
		} {
			var p struct{ Code, Field string }
			ts.must(ts.call("GET", "/v1/ops/approvals/stats?"+q.query, ops, nil), 400).json(t, &p)
			if p.Code != "invalid" || p.Field != q.field {
				t.Errorf("%s: %+v", q.query, p)
			}
		}
		var p struct{ Code, Field string }
		ts.must(ts.call("GET", "/v1/ops/approvals/stats?to=2026-04-01T00:00:00Z", ops, nil, offContract), 400).json(t, &p)
		if p.Field != "from" {
			t.Errorf("without from: %+v", p)
		}
	})

	t.Run("ops set, list and delete reminder policies", func(t *testing.T) {
		ts := ts.with(t)
		var got struct {
			FlowCode     string   `json:"flow_code"`
			MaxReminders int      `json:"max_reminders"`
			EscalateTo   []string `json:"escalate_to"`
		}
		ts.must(ts.call("PUT", "/v1/ops/approvals/reminder-policies/EXP", ops, map[string]any{
			"remind_after_hours": 8, "before_due_hours": 2, "max_reminders": 3, "escalate_after_hours": 48, "escalate_to": []string{"OPS1"},
		}), 200).json(t, &got)
		if got.FlowCode != "EXP" || got.MaxReminders != 3 || len(got.EscalateTo) != 1 {
			t.Errorf("policy: %+v", got)
		}
		var list struct {
			Items []struct {
				FlowCode string `json:"flow_code"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/approvals/reminder-policies", ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].FlowCode != "EXP" {
			t.Errorf("list: %+v", list)
		}
		var p struct{ Code, Field string }
		ts.must(ts.call("PUT", "/v1/ops/approvals/reminder-policies/EXP", ops, map[string]any{"escalate_after_hours": 5}), 400).json(t, &p)
		if p.Field != "escalate_to" {
			t.Errorf("escalation without a list: %+v", p)
		}
		ts.must(ts.call("PUT", "/v1/ops/approvals/reminder-policies/EXP", alice, map[string]any{"max_reminders": 1}), 403)
		ts.must(ts.call("GET", "/v1/ops/approvals/reminder-policies", alice, nil), 403)
		ts.must(ts.call("DELETE", "/v1/ops/approvals/reminder-policies/EXP", alice, nil), 403)
		ts.must(ts.call("DELETE", "/v1/ops/approvals/reminder-policies/EXP", ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/approvals/reminder-policies/EXP", ops, nil), 404)
	})

	t.Run("the delivery log and replay are for admins", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/admin/integrations/nope/deliveries", admin, nil), 404)
		ts.must(ts.call("GET", "/v1/admin/integrations/nope/deliveries?limit=10", ops, nil), 403)
		ts.must(ts.call("POST", "/v1/admin/integrations/nope/deliveries/nope:task:1/replay", admin, nil), 404)
		ts.must(ts.call("POST", "/v1/admin/integrations/nope/deliveries/nope:task:1/replay", ops, nil), 403)
	})
}
