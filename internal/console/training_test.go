package console

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/training"
)

// TestTrainingScreensSpeakBothLanguages checks that every message the training screens name
// exists in zh-CN and en, and that every training message has both.
func TestTrainingScreensSpeakBothLanguages(t *testing.T) {
	key := regexp.MustCompile(`t \$l "([a-z_]+)"`)
	used := []string{"tr_menu", "tr_dashboard_link"}
	for _, s := range []string{training.StatusAwaitingUpload, training.StatusUploaded, training.StatusProcessing, training.StatusReady, training.StatusFailed} {
		used = append(used, TrainingStatus(s))
	}
	for _, s := range []string{training.ProgressNotStarted, training.ProgressInProgress, training.ProgressCompleted} {
		used = append(used, "tr_progress_"+s)
	}
	for _, r := range auth.AllRoles {
		used = append(used, "role_"+string(r))
	}
	names, err := fs.Glob(templateFS, "templates/training*.html")
	if err != nil || len(names) != 2 {
		t.Fatalf("training templates %v (%v)", names, err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			used = append(used, m[1])
		}
	}
	for k := range trainingMessages {
		used = append(used, k)
	}
	for _, k := range used {
		for _, loc := range []string{"zh-CN", "en"} {
			if strings.TrimSpace(messages[k][loc]) == "" {
				t.Errorf("message %q has no %s text", k, loc)
			}
		}
	}
}

// TestTrainingPagesRender renders the list and a video's page in both languages: statuses,
// the upload form's endpoint, the preview player and the report's CSV link.
func TestTrainingPagesRender(t *testing.T) {
	due := time.Date(2030, 1, 31, 18, 0, 0, 0, time.UTC)
	ready := &training.Video{ID: "v1", Title: "拜访记录", Status: training.StatusReady, Published: true, Playable: true,
		Required: true, DueAt: &due, Departments: []string{"Sales"}, Roles: []string{"employee"}, DurationMS: 65000,
		PosterURL: "http://minio.test/videos/poster.jpg?sig=1", Language: "zh-CN"}
	failed := &training.Video{ID: "v2", Title: "Safety", Status: training.StatusFailed, Failure: "ffmpeg: bad input", Published: true}
	viewer := &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleOps}}
	for _, loc := range []string{"zh-CN", "en"} {
		list, err := Render("training", Page{Locale: loc, Title: "tr_videos", Viewer: viewer, CSRFToken: "tok",
			Data: TrainingList{Videos: []*training.Video{ready, failed}, RoleChoices: []string{"employee", "ops"}, Languages: []string{"zh-CN", "en"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`href="/console/training/videos/v1"`, `src="http://minio.test/videos/poster.jpg?sig=1"`,
			"ffmpeg: bad input", "employee, Sales", "1:05", "2030-01-31 18:00:00 UTC", `action="/console/training/videos"`,
			T(loc, "tr_status_ready"), T(loc, "tr_status_failed")} {
			if !strings.Contains(string(list), want) {
				t.Errorf("%s list lacks %q", loc, want)
			}
		}
		page, err := Render("training_video", Page{Locale: loc, Title: "tr_video", Viewer: viewer, CSRFToken: "tok",
			Data: TrainingVideo{Video: ready, Form: FormOf(ready), PreviewURL: "http://minio.test/videos/offline.mp4?sig=2",
				Report: &training.VideoUsers{}, RoleChoices: []string{"employee", "ops"}, Languages: []string{"zh-CN", "en"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`data-endpoint="/console/training/uploads"`, `data-video="v1"`,
			`<video id="tr-player" controls`, `src="http://minio.test/videos/offline.mp4?sig=2"`, `value="2030-01-31T18:00"`,
			`id="role-employee" name="roles" value="employee" checked`, `href="/console/training/videos/v1/report.csv"`,
			`<script src="/console/static/training.js">`} {
			if !strings.Contains(string(page), want) {
				t.Errorf("%s video page lacks %q", loc, want)
			}
		}
		if strings.Contains(string(page), "data-refresh") {
			t.Errorf("%s: a ready video's page refreshes itself", loc)
		}
	}
	processing := &training.Video{ID: "v3", Title: "x", Status: training.StatusProcessing, Percent: 42, Published: true}
	page, err := Render("training_video", Page{Locale: "en", Title: "tr_video", Viewer: viewer,
		Data: TrainingVideo{Video: processing, Form: FormOf(processing)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-refresh="5"`, "processing 42%", `value="42"`, T("en", "tr_no_preview")} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the processing video's page lacks %q", want)
		}
	}
}
