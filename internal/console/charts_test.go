package console

import (
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/analytics"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/feedback"
)

func TestCharts(t *testing.T) {
	t.Run("columns scale to the largest value and stand on the axis", func(t *testing.T) {
		c := Columns([]Point{{Label: "a", Value: 5}, {Label: "b", Value: 10}, {Label: "c", Value: 0}})
		if c.Bars[1].Y+c.Bars[1].H != c.Baseline() || c.Bars[0].H*2 != c.Bars[1].H || c.Bars[2].H != 0 {
			t.Fatalf("bars %+v", c.Bars)
		}
	})
	t.Run("rows of percentages fill at most the track and shorten long labels", func(t *testing.T) {
		c := Rows([]Point{{Label: strings.Repeat("x", 40), Value: 150}, {Label: "half", Value: 50}}, true)
		if c.Bars[0].W != c.TrackWidth() || c.Bars[1].W != c.TrackWidth()/2 {
			t.Fatalf("widths %v %v of %v", c.Bars[0].W, c.Bars[1].W, c.TrackWidth())
		}
		if got := []rune(c.Bars[0].Label); len(got) != 28 || got[27] != '…' {
			t.Fatalf("label %q", c.Bars[0].Label)
		}
	})
	t.Run("nothing to draw is not a division by zero", func(t *testing.T) {
		if c := Columns([]Point{{Label: "a", Value: 0}}); c.Bars[0].H != 0 {
			t.Fatalf("bars %+v", c.Bars)
		}
	})
}

func TestDashboardPage(t *testing.T) {
	var d Dashboard
	d.SetActive(&analytics.ActiveUsers{Days: []analytics.ActiveDay{{Day: "2030-05-05", DAU: 4, WAU: 9, MAU: 20}, {Day: "2030-05-06", DAU: 7, WAU: 10, MAU: 21}}})
	d.AddAdoption("portal", []analytics.AdoptionDay{{Day: "2030-05-06", Devices: 4, Builds: []analytics.BuildShare{{Build: "120", Devices: 3, Share: 0.75}, {Build: "118", Devices: 1, Share: 0.25}}}})
	d.SetFeedback(&feedback.LoopStats{Open: 3, Backlog: []feedback.AgeBucket{{Bucket: "<1d", Count: 2}, {Bucket: "1-3d", Count: 1}}})
	page, err := Render("dashboard", Page{Locale: "en", Title: "dashboard", Viewer: &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleOps}}, Data: d})
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, bad := range []string{"style=", "<style", "<script", "javascript:"} {
		if strings.Contains(html, bad) {
			t.Errorf("the dashboard holds %q, which the CSP refuses", bad)
		}
	}
	if n := strings.Count(html, `<svg class="chart"`); n != 3 {
		t.Errorf("%d charts, want 3 (active users, adoption, backlog)", n)
	}
	for _, want := range []string{`id="dau">7<`, `id="mau">21<`, "75.0%", `aria-labelledby="adoption-portal-cap"`, `id="adoption-portal-cap"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the dashboard lacks %s", want)
		}
	}
}

func TestEveryMessageInBothLanguages(t *testing.T) {
	for key, m := range messages {
		if m["zh-CN"] == "" || m["en"] == "" {
			t.Errorf("message %q lacks a language: %v", key, m)
		}
	}
}
