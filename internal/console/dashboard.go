package console

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/training"
)

// Dashboard is the console's home page: the numbers ops look at first, each part filled in
// from the service that owns it (nil or false when that service is not configured).
type Dashboard struct {
	// Day is the last day of the ranges (UTC, the server's clock).
	Day string
	// Apps is how many apps there are; -1 when they could not be read.
	Apps int
	// Unavailable names the parts (by their headings' message keys) whose service failed: they
	// are left out and named in a notice.
	Unavailable []string

	// Active is the last day of the active-users series; ActiveChart its last 30 days' DAU.
	Active      *analytics.ActiveDay
	ActiveChart Chart
	Adoption    []AppAdoption

	Rollouts     []RolloutLine
	RolloutChart Chart

	Feedback     bool
	FeedbackOpen int
	Backlog      Chart

	Approvals *approval.Metrics

	Training      bool
	TrainingLines []TrainingLine
	TrainingChart Chart
}

// Missing reports whether the part named (by its heading's message key) could not be read.
func (d Dashboard) Missing(part string) bool { return slices.Contains(d.Unavailable, part) }

// AppAdoption is an app's split of active devices across builds on the latest day with any.
type AppAdoption struct {
	App     string
	Day     string
	Devices int
	Chart   Chart
}

// RolloutLine is a release being rolled out: active and below 100%.
type RolloutLine struct {
	App, Platform, Channel, Version string
	Build                           int64
	Percent                         float64
}

// TrainingLine is one published video's completion.
type TrainingLine struct {
	VideoID, Title      string
	Assigned, Completed int
	Overdue             int
	Percent             float64
}

// SetActive takes the active-users series of the last 30 days.
func (d *Dashboard) SetActive(au *analytics.ActiveUsers) {
	if au == nil || len(au.Days) == 0 {
		return
	}
	last := au.Days[len(au.Days)-1]
	d.Active = &last
	points := make([]Point, len(au.Days))
	for i, day := range au.Days {
		points[i] = Point{Label: day.Day[5:], Value: float64(day.DAU)}
	}
	d.ActiveChart = Columns(points)
	d.ActiveChart.ID = "dau"
}

// AddAdoption adds an app's adoption series; an app without active devices is left out.
func (d *Dashboard) AddAdoption(app string, days []analytics.AdoptionDay) {
	for i := len(days) - 1; i >= 0; i-- {
		day := days[i]
		if day.Devices == 0 {
			continue
		}
		points := make([]Point, len(day.Builds))
		for j, b := range day.Builds {
			points[j] = Point{Label: fmt.Sprintf("%s %s", app, b.Build), Value: b.Share * 100,
				Note: strconv.Itoa(b.Devices)}
		}
		chart := Rows(points, true)
		chart.ID = "adoption-" + app
		d.Adoption = append(d.Adoption, AppAdoption{App: app, Day: day.Day, Devices: day.Devices, Chart: chart})
		return
	}
}

// AddRollouts adds an app's releases that are rolling out (active, below 100%).
func (d *Dashboard) AddRollouts(tracks []release.Track) {
	for _, t := range tracks {
		for _, r := range t.Releases {
			if r.State == rollout.Active && r.Percent < 100 {
				d.Rollouts = append(d.Rollouts, RolloutLine{App: t.AppID, Platform: string(t.Platform), Channel: t.Channel,
					Version: r.Version, Build: r.Build, Percent: r.Percent})
			}
		}
	}
	points := make([]Point, len(d.Rollouts))
	for i, r := range d.Rollouts {
		points[i] = Point{Label: fmt.Sprintf("%s %s/%s %d", r.App, r.Platform, r.Channel, r.Build), Value: r.Percent}
	}
	d.RolloutChart = Rows(points, true)
	d.RolloutChart.ID = "rollouts"
}

// SetFeedback takes the open backlog by age.
func (d *Dashboard) SetFeedback(loop *feedback.LoopStats) {
	d.Feedback, d.FeedbackOpen = true, loop.Open
	points := make([]Point, len(loop.Backlog))
	for i, b := range loop.Backlog {
		points[i] = Point{Label: b.Bucket, Value: float64(b.Count)}
	}
	d.Backlog = Columns(points)
	d.Backlog.ID = "backlog"
}

// SetTraining takes the completion report: one line per published video.
func (d *Dashboard) SetTraining(rep *training.CompletionReport) {
	d.Training = true
	var points []Point
	for _, v := range rep.Videos {
		if !v.Published {
			continue
		}
		line := TrainingLine{VideoID: v.VideoID, Title: v.Title, Assigned: v.Assigned, Completed: v.Completed, Overdue: v.Overdue}
		if v.Assigned > 0 {
			line.Percent = 100 * float64(v.Completed) / float64(v.Assigned)
		}
		d.TrainingLines = append(d.TrainingLines, line)
		points = append(points, Point{Label: v.Title, Value: line.Percent, Note: fmt.Sprintf("%d/%d", v.Completed, v.Assigned)})
	}
	d.TrainingChart = Rows(points, true)
	d.TrainingChart.ID = "training"
}
