package api

import (
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/console"
)

// consoleStatsDays is the range the approval statistics screen shows by default: the last 30
// UTC days, today included.
const consoleStatsDays = 30

// consoleStatsRange reads the statistics screen's range of UTC days (both included; by default
// the last 30 days of the server's clock) as the service's [from, to).
func (s *Server) consoleStatsRange(c *fiber.Ctx) (from, to time.Time, err error) {
	today := s.deps.Now.UTC().Truncate(24 * time.Hour)
	day := func(field string, def time.Time) (time.Time, error) {
		v := c.Query(field)
		if v == "" {
			return def, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return time.Time{}, apperr.Field(field, "%s must be a date such as 2026-03-01", field)
		}
		return t, nil
	}
	if from, err = day("from", today.AddDate(0, 0, 1-consoleStatsDays)); err != nil {
		return
	}
	to, err = day("to", today)
	return from, to.AddDate(0, 0, 1), err
}

// consoleApprovalStatsCSV exports the statistics of the screen's range as the API's
// stats.csv does.
func (s *Server) consoleApprovalStatsCSV(c *fiber.Ctx) error {
	from, to, err := s.consoleStatsRange(c)
	if err != nil {
		return err
	}
	return s.writeApprovalStatsCSV(c, from, to)
}

// consoleApprovalStats is the approval statistics screen (ops and admins): reject rates and
// step times per flow and per node over a range of UTC days, through the same Stats as
// GET /v1/ops/approvals/stats.
func (s *Server) consoleApprovalStats(c *fiber.Ctx) error {
	from, to, err := s.consoleStatsRange(c)
	if err != nil {
		return err
	}
	st, err := s.deps.ApprovalStats.Stats(c.UserContext(), principal(c), from, to)
	if err != nil {
		return err
	}
	q := url.Values{"from": {from.Format(time.DateOnly)}, "to": {to.AddDate(0, 0, -1).Format(time.DateOnly)}}.Encode()
	data := console.ApprovalStats{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), CSV: "/console/approvals.csv?" + q,
		Total: statsRow("", st.Total), Approvers: st.Approvers, HighestRate: nodeRef(st.HighestRejectRate, true),
		Slowest: nodeRef(st.Slowest, false)}
	flows, nodes := console.StatsTable{Key: "flows"}, console.StatsTable{Key: "nodes"}
	for _, f := range st.Flows {
		flows.Rows = append(flows.Rows, statsRow(f.FlowName+" ("+f.FlowCode+")", f.Metrics))
	}
	for _, n := range st.Nodes {
		nodes.Rows = append(nodes.Rows, statsRow(n.FlowName+" / "+n.NodeName, n.Metrics))
	}
	data.Tables = []console.StatsTable{flows, nodes}
	return s.renderConsole(c, fiber.StatusOK, "approvals", console.Page{Title: "approvals", Nav: "approvals", Data: data})
}

// statsRow puts one group's metrics in the shape the table shows.
func statsRow(name string, m approval.Metrics) console.StatsRow {
	return console.StatsRow{Name: name, Tasks: m.Tasks, Approved: m.Approved, Rejected: m.Rejected, Pending: m.Pending,
		Overdue: m.Overdue, RejectRate: m.RejectRate, RejectPercent: percentText(m.RejectRate, m.Approved+m.Rejected),
		MedianStep: durationText(m.MedianDecideSeconds), P90Step: durationText(m.P90DecideSeconds)}
}

// percentText shows a rate of decided tasks; "–" when nothing was decided.
func percentText(rate float64, decided int) string {
	if decided == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", rate*100)
}

// durationText shows a step time in seconds as hours and minutes; "–" without one.
func durationText(sec *float64) string {
	if sec == nil {
		return "–"
	}
	d := time.Duration(math.Round(*sec)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	default:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// nodeRef names the node that stood out, with its figure.
func nodeRef(n *approval.NodeRef, rate bool) string {
	if n == nil {
		return ""
	}
	v := durationText(&n.Value)
	if rate {
		v = fmt.Sprintf("%.1f%%", n.Value*100)
	}
	return n.FlowCode + " / " + n.NodeName + ": " + v
}

// consoleIntegrations lists the approval integrations (admins), through the same Integrations
// as GET /v1/admin/integrations.
func (s *Server) consoleIntegrations(c *fiber.Ctx) error {
	list, err := s.deps.Approvals.Integrations(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "approvals_integrations", console.Page{Title: "integrations", Nav: "approvals",
		Data: console.Integrations{Items: list}})
}

// consoleDeliveries is one integration's callback delivery log (admins), through the same
// Deliveries as GET /v1/admin/integrations/{source}/deliveries.
func (s *Server) consoleDeliveries(c *fiber.Ctx) error {
	source := c.Params("source")
	items, err := s.deps.ApprovalCallbacks.Deliveries(c.UserContext(), principal(c), source, approval.MaxDeliveriesPage)
	if err != nil {
		return err
	}
	return s.renderConsole(c, fiber.StatusOK, "approvals_deliveries", console.Page{Title: "deliveries", Nav: "approvals",
		Data: console.Deliveries{Source: source, Items: items}})
}

// consoleReplayDelivery sends a logged callback again (admins), through the same Replay as
// POST /v1/admin/integrations/{source}/deliveries/{delivery_id}/replay, audited.
func (s *Server) consoleReplayDelivery(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	source, id := c.Params("source"), c.Params("delivery_id")
	r, err := s.deps.ApprovalCallbacks.Replay(ctx, p, source, id)
	if err != nil {
		return err
	}
	s.audit(c, p, "approval.replay", source+"/"+id, nil, r)
	return consoleDone(c, "/console/approvals/integrations/"+url.PathEscape(source)+"/deliveries")
}
