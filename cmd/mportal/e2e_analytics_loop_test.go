package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// TestAnalyticsFeedbackLoop follows feedback from a phone to an ops reply and resolution, and
// reads the loop numbers and the metrics index through HTTP against the contract.
func TestAnalyticsFeedbackLoop(t *testing.T) {
	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(start)
	ts := startServer(t, testEnv(t, nil), func(m *Main) { m.Clock = clock.Now })
	who := ts.staff()
	record := func(id, text string) map[string]any {
		r := feedbackRecord(id, text, false)
		r["created_at"] = clock.Now().UnixMilli()
		return r
	}
	if res := ts.syncPush(who.zh, 0, feedbackChanges("feedback", record("loop1", "Scanner crashes"), record("loop2", "Map is blank"))); res.Accepted != 2 {
		t.Fatalf("push: %+v", res)
	}
	clock.Advance(6 * time.Minute)
	ts.must(ts.call("POST", "/v1/ops/feedback/loop1/replies", who.ops, map[string]any{"text": "Looking into it"}), 201)
	clock.Advance(6 * time.Minute)
	ts.must(ts.call("PATCH", "/v1/ops/feedback/loop1", who.ops, map[string]any{"status": "acknowledged"}), 200)
	ts.must(ts.call("PATCH", "/v1/ops/feedback/loop1", who.ops, map[string]any{"status": "resolved"}), 200)
	ts.must(ts.call("PUT", "/v1/feedback/loop2/me-too", who.ops, nil), 200)

	q := "?from=2030-05-06&to=2030-05-06"
	t.Run("ops read response and resolution times, the backlog and the top me-too", func(t *testing.T) {
		ts := ts.with(t)
		type durations struct {
			Count       int
			MedianHours float64 `json:"median_hours"`
			P90Hours    float64 `json:"p90_hours"`
		}
		var got struct {
			Created       int
			FirstResponse durations `json:"first_response"`
			Resolution    durations
			Open          int
			Backlog       []struct {
				Bucket string
				Count  int
			}
			TopMeToo []struct {
				ID         string
				Title      string
				MeTooCount int `json:"me_too_count"`
			} `json:"top_me_too"`
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/feedback"+q, who.ops, nil), 200).json(t, &got)
		if got.Created != 2 || got.FirstResponse.Count != 1 || got.FirstResponse.MedianHours != 0.1 || got.FirstResponse.P90Hours != 0.1 ||
			got.Resolution.Count != 1 || got.Resolution.MedianHours != 0.2 || got.Open != 1 || len(got.Backlog) != 5 || got.Backlog[0].Count != 1 ||
			len(got.TopMeToo) != 1 || got.TopMeToo[0].ID != "loop2" || got.TopMeToo[0].Title != "Map is blank" || got.TopMeToo[0].MeTooCount != 1 {
			t.Fatalf("feedback loop = %+v", got)
		}
	})
	t.Run("employees get 403 and a bad range names the field", func(t *testing.T) {
		ts := ts.with(t)
		for _, path := range []string{"/v1/ops/metrics/feedback" + q, "/v1/ops/metrics"} {
			if r := ts.call("GET", path, who.zh, nil); r.status != 403 {
				t.Errorf("GET %s by an employee: %d", path, r.status)
			}
		}
		r := ts.call("GET", "/v1/ops/metrics/feedback?from=2030-05-06&to=2030-05-05", who.ops, nil)
		if r.status != 400 || r.problemCode() != "invalid" || !strings.Contains(string(r.body), "to") {
			t.Fatalf("bad range: %d %s", r.status, r.body)
		}
	})
	t.Run("ops read the reach of the announcements published in a range", func(t *testing.T) {
		ts := ts.with(t)
		var ann struct{ ID string }
		ts.must(ts.call("POST", "/v1/ops/announcements", who.ops, map[string]any{
			"title": "Canteen", "body": "Closed on Friday.", "audience": map[string]any{"all": true},
		}), 201).json(t, &ann)
		ts.must(ts.call("POST", "/v1/announcements/"+ann.ID+"/read", who.zh, nil), 204)
		var reach struct {
			Items []struct {
				ID           string
				AudienceSize int `json:"audience_size"`
				Read         int
				ByDepartment []struct{ Read int } `json:"by_department"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/announcements"+q, who.ops, nil), 200).json(t, &reach)
		if len(reach.Items) != 1 || reach.Items[0].ID != ann.ID || reach.Items[0].AudienceSize < 4 || reach.Items[0].Read != 1 ||
			len(reach.Items[0].ByDepartment) == 0 {
			t.Fatalf("reach = %+v", reach)
		}
		ts.must(ts.call("GET", "/v1/ops/metrics/announcements?from=2030-05-07&to=2030-05-07", who.ops, nil), 200).json(t, &reach)
		if len(reach.Items) != 0 {
			t.Fatalf("reach of another day = %+v", reach)
		}
		if r := ts.call("GET", "/v1/ops/metrics/announcements"+q, who.zh, nil); r.status != 403 {
			t.Fatalf("employee: %d", r.status)
		}
	})
	t.Run("the index links every metrics endpoint, approvals and training included", func(t *testing.T) {
		ts := ts.with(t)
		var idx struct{ Items []struct{ Name, Path string } }
		ts.must(ts.call("GET", "/v1/ops/metrics", who.ops, nil), 200).json(t, &idx)
		paths := map[string]bool{}
		for _, it := range idx.Items {
			paths[it.Path] = true
		}
		for _, p := range []string{"/v1/ops/metrics/feedback", "/v1/ops/metrics/active-users", "/v1/ops/approvals/stats", "/v1/ops/training/report", "/v1/ops/metrics/announcements"} {
			if !paths[p] {
				t.Errorf("index %+v lacks %s", idx.Items, p)
			}
		}
	})
}
