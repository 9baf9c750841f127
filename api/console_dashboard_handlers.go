package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/console"
)

// dashboardDays is how far back the dashboard's numbers look (MAU needs 30 days).
const dashboardDays = 30

// consoleDashboard is the console's home page: active users, adoption per build, rollouts in
// progress, the feedback backlog by age, pending approvals and training completion, each read
// from the service the API reads it from (the same roles apply: ops and admins). A part whose
// service is not configured is left out.
func (s *Server) consoleDashboard(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	now := s.deps.Now.UTC()
	today := now.Format(time.DateOnly)
	from := now.AddDate(0, 0, 1-dashboardDays).Format(time.DateOnly)
	apps, err := s.deps.Releases.ListApps(ctx, p)
	if err != nil {
		return err
	}
	d := console.Dashboard{Day: today, Apps: len(apps)}
	if s.deps.Analytics != nil {
		au, err := s.deps.Analytics.ActiveUsers(p, analytics.Range{From: from, To: today}, "", "")
		if err != nil {
			return err
		}
		d.SetActive(au)
		week := analytics.Range{From: now.AddDate(0, 0, -6).Format(time.DateOnly), To: today}
		for _, a := range apps {
			days, err := s.deps.Analytics.Adoption(p, a.ID, week)
			if err != nil {
				return err
			}
			d.AddAdoption(a.ID, days)
		}
	}
	for _, a := range apps {
		tracks, err := s.deps.Releases.ListTracks(ctx, p, a.ID)
		if err != nil {
			return err
		}
		d.AddRollouts(tracks)
	}
	loop, err := s.deps.Feedback.Loop(ctx, p, from, today)
	if err != nil {
		return err
	}
	d.SetFeedback(loop)
	if s.deps.ApprovalStats != nil {
		st, err := s.deps.ApprovalStats.Stats(ctx, p, now.AddDate(0, 0, -dashboardDays), now)
		if err != nil {
			return err
		}
		d.Approvals = &st.Total
	}
	if s.deps.Training != nil {
		rep, err := s.deps.Training.Completion(ctx, p)
		if err != nil {
			return err
		}
		d.SetTraining(rep)
	}
	return s.renderConsole(c, fiber.StatusOK, "dashboard", console.Page{Title: "dashboard", Nav: "dashboard", Data: d})
}
