package api

import (
	"github.com/gofiber/fiber/v2"
)

// feedbackMetrics is the feedback loop: response and resolution times, backlog, top "me too".
func (s *Server) feedbackMetrics(c *fiber.Ctx) error {
	res, err := s.deps.Feedback.Loop(c.UserContext(), principal(c), c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// announcementMetrics is the reach of the announcements published over a range.
func (s *Server) announcementMetrics(c *fiber.Ctx) error {
	items, err := s.deps.Announcements.Reach(c.UserContext(), principal(c), c.Query("from"), c.Query("to"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

// metricLink is one operating number the index points to.
type metricLink struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	Description string `json:"description"`
	// Analytics says the number needs usage analytics, which may be switched off.
	Analytics bool `json:"-"`
}

// metricLinks lists the operating numbers, in the order the index shows them.
var metricLinks = []metricLink{
	{"active_users", "/v1/ops/metrics/active-users", "Distinct users and devices, DAU/WAU/MAU (from, to).", true},
	{"active_users_breakdown", "/v1/ops/metrics/active-users/breakdown", "Distinct users per department, role, app, build or platform.", true},
	{"screens", "/v1/ops/metrics/screens", "Views, visitors and entries per screen.", true},
	{"adoption", "/v1/ops/metrics/adoption", "Share of an app's active devices on each build.", true},
	{"release_adoption", "/v1/ops/metrics/adoption/releases", "Per staged release: share of its eligible devices reached, days to 50% and 90%.", true},
	{"stuck_devices", "/v1/ops/metrics/adoption/stuck", "Active devices below their track's minimum build (list: /stuck/devices).", true},
	{"activation", "/v1/ops/metrics/activation", "Share of the directory that has used the app.", true},
	{"feedback", "/v1/ops/metrics/feedback", "Feedback response and resolution times, backlog by age, top \"me too\".", false},
	{"announcements", "/v1/ops/metrics/announcements", "Reach of the announcements published in a range, by department (role ops).", false},
	{"approvals", "/v1/ops/approvals/stats", "Approval volumes and decision times.", false},
	{"training", "/v1/ops/training/report", "Training completion by video and department.", false},
}

// metricsIndex lists the operating numbers this server offers.
func (s *Server) metricsIndex(c *fiber.Ctx) error {
	items := []metricLink{}
	for _, l := range metricLinks {
		if l.Analytics && s.deps.Analytics == nil {
			continue
		}
		if l.Name == "training" && s.deps.Training == nil {
			continue
		}
		items = append(items, l)
	}
	return c.JSON(fiber.Map{"items": items})
}
