package api

import (
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/release"
)

// dashboardParts are the dashboard's parts in the page's order, by their headings' message keys.
var dashboardParts = []string{"apps", "active_users", "adoption", "rollouts_in_progress", "feedback_backlog",
	"dash_approvals", "training_completion"}

// dashboardDays is how far back the dashboard's numbers look (MAU needs 30 days).
const dashboardDays = 30

// consoleDashboard is the console's home page: active users, adoption per build, rollouts in
// progress, the feedback backlog by age, pending approvals and training completion, each read
// from the service the API reads it from (the same roles apply: ops and admins). A part whose
// service is not configured is left out. A part whose service fails (a timeout, a document it
// cannot read) is left out too, logged and named in the page's notice: the other parts still
// show, so one broken report does not take ops' whole home page with it. The parts after the
// apps (which adoption and rollouts need) are read at once, each filling its own fields: with
// the database away, the page waits for one timeout, not one per part.
func (s *Server) consoleDashboard(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	now := s.deps.Now.UTC()
	today := now.Format(time.DateOnly)
	from := now.AddDate(0, 0, 1-dashboardDays).Format(time.DateOnly)
	d := console.Dashboard{Day: today, Apps: -1}
	var (
		mu     sync.Mutex
		failed = map[string]bool{}
		wg     sync.WaitGroup
	)
	// run reads one part; its failure is the part's alone. name is the part's heading (a
	// message key), shown in the notice.
	run := func(name string, fn func() error) {
		err := fn()
		if err == nil || ctx.Err() != nil { // a visitor gone away is shown nothing
			return
		}
		s.log.Error("console dashboard: a part could not be read", "part", name, "error", err.Error(),
			"request_id", requestID(c))
		mu.Lock()
		failed[name] = true
		mu.Unlock()
	}
	part := func(name string, fn func() error) { wg.Go(func() { run(name, fn) }) }
	var apps []release.App
	run("apps", func() (err error) {
		apps, err = s.deps.Releases.ListApps(ctx, p)
		if err == nil {
			d.Apps = len(apps)
		}
		return err
	})
	if d.Apps < 0 { // the parts per app cannot be told
		failed["adoption"], failed["rollouts_in_progress"] = true, true
	}
	if s.deps.Analytics != nil {
		part("active_users", func() error {
			au, err := s.deps.Analytics.ActiveUsers(p, analytics.Range{From: from, To: today}, "", "")
			if err == nil {
				d.SetActive(au)
			}
			return err
		})
		part("adoption", func() error {
			if d.Apps < 0 {
				return nil
			}
			week := analytics.Range{From: now.AddDate(0, 0, -6).Format(time.DateOnly), To: today}
			for _, a := range apps {
				days, err := s.deps.Analytics.Adoption(p, a.ID, week)
				if err != nil {
					return err
				}
				d.AddAdoption(a.ID, days)
			}
			return nil
		})
	}
	part("rollouts_in_progress", func() error {
		if d.Apps < 0 {
			return nil
		}
		for _, a := range apps {
			tracks, err := s.deps.Releases.ListTracks(ctx, p, a.ID)
			if err != nil {
				return err
			}
			d.AddRollouts(tracks)
		}
		return nil
	})
	part("feedback_backlog", func() error {
		loop, err := s.deps.Feedback.Loop(ctx, p, from, today)
		if err == nil {
			d.SetFeedback(loop)
		}
		return err
	})
	if s.deps.ApprovalStats != nil {
		part("dash_approvals", func() error {
			st, err := s.deps.ApprovalStats.Stats(ctx, p, now.AddDate(0, 0, -dashboardDays), now)
			if err == nil {
				d.Approvals = &st.Total
			}
			return err
		})
	}
	if s.deps.Training != nil {
		part("training_completion", func() error {
			rep, err := s.deps.Training.Completion(ctx, p)
			if err == nil {
				d.SetTraining(rep)
			}
			return err
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, name := range dashboardParts {
		if failed[name] {
			d.Unavailable = append(d.Unavailable, name)
		}
	}
	return s.renderConsole(c, fiber.StatusOK, "dashboard", console.Page{Title: "dashboard", Nav: "dashboard", Data: d})
}
