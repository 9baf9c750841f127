package main

import (
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/upload"
)

// readyTrainingVideo creates a video with in's metadata, uploads the test clip (5 s) in one
// PATCH and waits until it is processed.
func readyTrainingVideo(t *testing.T, ts *testServer, admin string, in map[string]any) string {
	t.Helper()
	var v trainingVideo
	ts.must(ts.call("POST", "/v1/ops/training/videos", admin, in), 201).json(t, &v)
	file := trainingClip(t)
	path := uploadPath(t, ts.must(ts.call("POST", "/v1/uploads/", admin, nil, tus,
		withHeader("Upload-Length", strconv.Itoa(len(file))),
		withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{
			"purpose": "training_video", "video_id": v.ID, "filetype": "video/mp4", "filename": "clip.mp4"}))), 201).header.Get("Location"))
	ts.must(ts.call("PATCH", path, admin, string(file), tus, withHeader("Upload-Offset", "0"),
		withHeader("Content-Type", "application/offset+octet-stream")), 204)
	eventually(t, 3*time.Minute, "the video is ready", func() bool {
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+v.ID, admin, nil), 200).json(t, &v)
		if v.Status == "failed" {
			t.Fatalf("processing failed: %s", v.Failure)
		}
		return v.Status == "ready"
	})
	return v.ID
}

type watchProgress struct {
	VideoID     string `json:"video_id"`
	WatchedMS   int64  `json:"watched_ms"`
	DurationMS  int64  `json:"duration_ms"`
	Completed   bool   `json:"completed"`
	CompletedAt string `json:"completed_at"`
	Ranges      []struct {
		StartMS int64 `json:"start_ms"`
		EndMS   int64 `json:"end_ms"`
	} `json:"ranges"`
}

type progressPull struct {
	Changes map[string]struct {
		Updated []map[string]any `json:"updated"`
	} `json:"changes"`
	Timestamp int64 `json:"timestamp"`
}

// TestTrainingProgressAndReport: an online player and an offline device report progress on one
// video, the two merge into one row that every device pulls, and ops read the completion report.
func TestTrainingProgressAndReport(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_TRAINING_MAX_DURATION": "30s"}))
	admin := ts.adminToken()
	_, otp := ts.createUser(admin, map[string]any{"employee_no": "TP1", "name": "Sam", "department": "Sales"})
	sales := ts.signIn("TP1", otp, "TP1-passphrase", "TP1-phone").AccessToken
	_, otp = ts.createUser(admin, map[string]any{"employee_no": "TP2", "name": "Ian", "department": "IT"})
	it := ts.signIn("TP2", otp, "TP2-passphrase", "TP2-phone").AccessToken
	// Due an hour ago by the server's own clock: whatever the date, the video is overdue.
	due := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	video := readyTrainingVideo(t, ts, admin, map[string]any{"title": "Safety", "departments": []string{"Sales"},
		"required": true, "due_at": due})

	var p watchProgress
	t.Run("an online player reports progress", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PUT", "/v1/training/videos/"+video+"/progress", sales, map[string]any{
			"ranges": []map[string]int64{{"start_ms": 0, "end_ms": 2000}}, "last_position_ms": 2000}), 200).json(t, &p)
		if p.WatchedMS != 2000 || p.Completed || p.DurationMS < 4000 {
			t.Fatalf("progress: %+v", p)
		}
		r := ts.must(ts.call("PUT", "/v1/training/videos/"+video+"/progress", sales, map[string]any{
			"ranges": []map[string]int64{{"start_ms": 9, "end_ms": 3}}}), 400)
		if r.problemCode() != "invalid" || !strings.Contains(string(r.body), `"field":"ranges"`) {
			t.Fatalf("a reversed range: %s", r.body)
		}
		ts.must(ts.call("PUT", "/v1/training/videos/"+video+"/progress", it, map[string]any{"last_position_ms": 1}), 404)
	})

	t.Run("a device pushes the rest offline and the merged row is pulled", func(t *testing.T) {
		ts := ts.with(t)
		ranges, _ := json.Marshal([]map[string]int64{{"start_ms": 1500, "end_ms": p.DurationMS}})
		row := map[string]any{"id": video, "video_id": video, "ranges": string(ranges), "last_position_ms": 1000,
			"reported_at_ms": time.Now().Add(-time.Hour).UnixMilli()}
		var res struct {
			Accepted int `json:"accepted"`
		}
		ts.must(ts.call("POST", "/v1/sync/push", sales, map[string]any{"changes": map[string]any{
			"training_progress": map[string]any{"created": []any{row}, "updated": []any{}, "deleted": []any{}}}}), 200).json(t, &res)
		if res.Accepted != 1 {
			t.Fatalf("push: %+v", res)
		}
		var pull progressPull
		ts.must(ts.call("GET", "/v1/sync/pull?schema_version=4&last_pulled_at=0", sales, nil), 200).json(t, &pull)
		rows := pull.Changes["training_progress"].Updated
		if len(rows) != 1 || rows[0]["completed"] != true || rows[0]["last_position_ms"] != float64(2000) {
			t.Fatalf("pulled rows: %+v", rows)
		}
		var v3 progressPull
		ts.must(ts.call("GET", "/v1/sync/pull?schema_version=3&last_pulled_at=0", sales, nil), 200).json(t, &v3)
		if _, ok := v3.Changes["training_progress"]; ok {
			t.Fatal("a schema 3 app was sent training_progress")
		}
		var rejected struct {
			Rejected []struct {
				Code, Field string
			} `json:"rejected"`
		}
		ts.must(ts.call("POST", "/v1/sync/push", it, map[string]any{"changes": map[string]any{
			"training_progress": map[string]any{"updated": []any{row}}}}), 200).json(t, &rejected)
		if len(rejected.Rejected) != 1 || rejected.Rejected[0].Code != "not_found" || rejected.Rejected[0].Field != "video_id" {
			t.Fatalf("another department's push: %+v", rejected)
		}
	})

	t.Run("ops read the completion report; employees may not", func(t *testing.T) {
		ts := ts.with(t)
		var report struct {
			Videos []struct {
				VideoID   string `json:"video_id"`
				Assigned  int    `json:"assigned"`
				Started   int    `json:"started"`
				Completed int    `json:"completed"`
				Overdue   int    `json:"overdue"`
			} `json:"videos"`
		}
		ts.must(ts.call("GET", "/v1/ops/training/report", admin, nil), 200).json(t, &report)
		if len(report.Videos) != 1 || report.Videos[0].Assigned != 1 || report.Videos[0].Started != 1 ||
			report.Videos[0].Completed != 1 || report.Videos[0].Overdue != 0 {
			t.Fatalf("report: %+v", report)
		}
		ts.must(ts.call("GET", "/v1/ops/training/report", sales, nil), 403)
		var users struct {
			Users []struct {
				EmployeeNo string `json:"employee_no"`
				Status     string `json:"status"`
			} `json:"users"`
		}
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+video+"/report?department=Sales", admin, nil), 200).json(t, &users)
		if len(users.Users) != 1 || users.Users[0].EmployeeNo != "TP1" || users.Users[0].Status != "completed" {
			t.Fatalf("drill-down: %+v", users)
		}
		ts.must(ts.call("GET", "/v1/ops/training/videos/nope/report", admin, nil), 404)
		r := ts.must(ts.call("GET", "/v1/ops/training/report.csv?video_id="+video, admin, nil), 200)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][4] != "TP1" || rows[1][7] != "completed" {
			t.Fatalf("csv: %v %v", rows, err)
		}
		ts.must(ts.call("GET", "/v1/ops/training/report.csv", it, nil), 403)
	})
}

// seedTrainingVideo adds a processed training video for everyone to a WatermelonDB scenario's
// server (the training-progress scenarios).
func seedTrainingVideo(t *testing.T, cfg *watermelonConfig) {
	t.Helper()
	cfg.TrainingVideoID = readyTrainingVideo(t, cfg.ts, cfg.admin, map[string]any{"title": "Depot safety"})
	var v struct {
		DurationMS int64 `json:"duration_ms"`
	}
	cfg.ts.must(cfg.ts.call("GET", "/v1/ops/training/videos/"+cfg.TrainingVideoID, cfg.admin, nil), 200).json(t, &v)
	if v.DurationMS <= 0 {
		t.Fatalf("duration_ms %d", v.DurationMS)
	}
	cfg.TrainingDurationMS = v.DurationMS
}
