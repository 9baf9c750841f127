package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/upload"
	"github.com/mportal/mportal/media"
)

// consoleTus sends a tus request to the console's upload endpoint as the training page's
// script does: the session cookie and the anti-forgery token in X-CSRF-Token.
func (ts *testServer) consoleTus(s consoleSession, method, path string, body any, opts ...func(*http.Request)) response {
	ts.t.Helper()
	return ts.call(method, path, "", body, append([]func(*http.Request){tus, s.cookies(), withHeader("X-CSRF-Token", s.token)}, opts...)...)
}

// consoleUploadVideo uploads file for a video through the console's tus endpoint in two
// PATCHes, the second sent from the offset the server reports (HEAD); it returns the upload's
// path.
func (ts *testServer) consoleUploadVideo(s consoleSession, videoID string, file []byte) string {
	ts.t.Helper()
	r := ts.must(ts.consoleTus(s, "POST", "/console/training/uploads", nil, withHeader("Upload-Length", strconv.Itoa(len(file))),
		withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{
			"purpose": "training_video", "video_id": videoID, "filetype": "video/mp4", "filename": "clip.mp4"}))), 201)
	path := r.header.Get("Location")
	if !strings.HasPrefix(path, "/console/training/uploads/") {
		ts.t.Fatalf("the console's upload Location is %q", path)
	}
	octets := withHeader("Content-Type", "application/offset+octet-stream")
	half := len(file) / 2
	ts.must(ts.consoleTus(s, "PATCH", path, string(file[:half]), withHeader("Upload-Offset", "0"), octets), 204)
	offset, err := strconv.Atoi(ts.must(ts.consoleTus(s, "HEAD", path, nil), 200).header.Get("Upload-Offset"))
	if err != nil || offset != half {
		ts.t.Fatalf("Upload-Offset after the first half: %d %v, want %d", offset, err, half)
	}
	ts.must(ts.consoleTus(s, "PATCH", path, string(file[offset:]), withHeader("Upload-Offset", strconv.Itoa(offset)), octets), 204)
	return path
}

// TestConsoleTraining drives the training screens over HTTP: roles, the anti-forgery token on
// forms and on the tus endpoint, a video created, uploaded through the console's tus endpoint
// and processed (poster and preview allowed by the CSP), edited, unpublished, a failed one
// retried, one deleted, each checked through GET /v1/ops/training/videos/{id} and in the audit
// CSV. No worker runs: the test runs the jobs itself.
func TestConsoleTraining(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_TRAINING_WORKERS": "0", "MPORTAL_TRAINING_MAX_DURATION": "30s"}))
	admin := ts.adminToken()
	opsToken := ts.newOps(admin, "OPS1")
	_, employeeToken := ts.newEmployee(admin, "E5001", "Sales")
	_, s := ts.consoleSignIn("OPS1", "OPS1-passphrase")
	en := withHeader("Accept-Language", "en")
	apiVideo := func(id string) (v struct {
		trainingVideo
		Title       string   `json:"title"`
		Departments []string `json:"departments"`
		Roles       []string `json:"roles"`
		Required    bool     `json:"required"`
		DueAt       string   `json:"due_at"`
		Published   bool     `json:"published"`
		Category    string   `json:"category"`
	}) {
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+id, opsToken, nil), 200).json(t, &v)
		return v
	}
	form := url.Values{"title": {"如何填写拜访记录"}, "description": {"**三步**"}, "category": {"CRM"}, "tags": {"crm, visit"},
		"departments": {"Sales"}, "roles": {"employee"}, "required": {"1"}, "due_at": {"2030-01-31T18:00"}, "language": {"zh-CN"}}
	var videoID string

	t.Run("keeps employees out", func(t *testing.T) {
		ts := ts.with(t)
		emp := consoleSession{csrfCookie: s.csrfCookie, token: s.token, session: "mportal_console=" + employeeToken}
		ts.must(ts.call("GET", "/console/training", "", nil, emp.cookies()), 403)
		ts.must(ts.consolePost(emp, "/console/training/videos", form), 403)
		ts.must(ts.consoleTus(emp, "POST", "/console/training/uploads", nil, withHeader("Upload-Length", "10"),
			withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{"purpose": "training_video", "video_id": "x", "filetype": "video/mp4"}))), 403)
		ts.must(ts.call("GET", "/console/training", "", nil), 401)
	})

	t.Run("creates a video from the form, refusing a bad value or a forged token", func(t *testing.T) {
		ts := ts.with(t)
		list := ts.must(ts.call("GET", "/console/training", "", nil, s.cookies(), en), 200)
		if !strings.Contains(string(list.body), `action="/console/training/videos"`) || !strings.Contains(string(list.body), `href="/console/training" aria-current="page"`) {
			t.Errorf("the training screen lacks its form or menu entry:\n%s", list.body)
		}
		bad := url.Values{"title": {"x"}, "required": {"1"}}
		r := ts.must(ts.consolePost(s, "/console/training/videos", bad, en), 400)
		if !strings.Contains(string(r.body), `id="due_at" name="due_at" value="" aria-invalid="true"`) {
			t.Errorf("a required video without a due date is not refused on its field:\n%s", r.body)
		}
		forged := url.Values{"csrf_token": {"forged"}, "title": {"x"}}
		ts.must(ts.consolePost(s, "/console/training/videos", forged), 403)
		ts.must(ts.consolePost(s, "/console/training/videos", url.Values{"title": {"x"}}, withHeader("Origin", "https://evil.example")), 403)
		r = ts.must(ts.consolePost(s, "/console/training/videos", form), 303)
		loc := r.header.Get("Location")
		videoID = strings.TrimPrefix(loc, "/console/training/videos/")
		if videoID == loc || videoID == "" {
			t.Fatalf("after creating, the console goes to %q", loc)
		}
		v := apiVideo(videoID)
		if v.Title != "如何填写拜访记录" || v.Status != "awaiting_upload" || !v.Required || v.DueAt != "2030-01-31T18:00:00Z" ||
			len(v.Departments) != 1 || v.Departments[0] != "Sales" || len(v.Roles) != 1 || v.Category != "CRM" {
			t.Errorf("the API's video after the console created it: %+v", v)
		}
	})
	if videoID == "" {
		t.FailNow()
	}

	t.Run("uploads through the console's tus endpoint, resuming from the server's offset", func(t *testing.T) {
		ts := ts.with(t)
		meta := withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{"purpose": "training_video", "video_id": videoID, "filetype": "video/mp4"}))
		noToken := ts.call("POST", "/console/training/uploads", "", nil, tus, s.cookies(), withHeader("Upload-Length", "10"), meta)
		ts.must(noToken, 403)
		ts.must(ts.consoleTus(s, "POST", "/console/training/uploads", nil, withHeader("Upload-Length", "10"), meta,
			withHeader("Origin", "https://evil.example")), 403)
		ts.must(ts.call("POST", "/console/training/uploads", opsToken, nil, tus, withHeader("Upload-Length", "10"), meta), 401)
		path := ts.consoleUploadVideo(s, videoID, trainingClip(t))
		ts.must(ts.consoleTus(s, "HEAD", path, nil, withHeader("X-CSRF-Token", "forged")), 403)
		if v := apiVideo(videoID); v.Status != "uploaded" {
			t.Fatalf("after the console's upload the API says %+v", v)
		}
		if ran, err := ts.main.training.RunOne(t.Context()); !ran || err != nil {
			t.Fatalf("RunOne: %v %v", ran, err)
		}
		if v := apiVideo(videoID); v.Status != "ready" || !v.Playable {
			t.Fatalf("after processing the API says %+v", v)
		}
	})

	t.Run("shows the poster and the preview from object storage, allowed by the CSP", func(t *testing.T) {
		ts := ts.with(t)
		storage := "http://" + ts.main.Config.MinIOEndpoint
		list := ts.must(ts.call("GET", "/console/training", "", nil, s.cookies(), en), 200)
		if csp := list.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: "+storage) {
			t.Errorf("the list's CSP %q does not allow the posters", csp)
		}
		if !strings.Contains(string(list.body), `<img class="poster" src="`+storage) || !strings.Contains(string(list.body), "ready") {
			t.Errorf("the list lacks the ready video's poster:\n%s", list.body)
		}
		page := ts.must(ts.call("GET", "/console/training/videos/"+videoID, "", nil, s.cookies(), en), 200)
		if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "media-src 'self' "+storage) {
			t.Errorf("the video page's CSP %q does not allow the preview", csp)
		}
		for _, want := range []string{`<video id="tr-player" controls`, `src="` + storage, "offline.mp4", `id="tr-report"`,
			`href="/console/training/videos/` + videoID + `/report.csv"`, `data-endpoint="/console/training/uploads"`} {
			if !strings.Contains(string(page.body), want) {
				t.Errorf("the video page lacks %s:\n%s", want, page.body)
			}
		}
		ts.must(ts.call("GET", "/console/training/videos/"+videoID+"?department=Sales", "", nil, s.cookies(), en), 200)
		csv := ts.must(ts.call("GET", "/console/training/videos/"+videoID+"/report.csv", "", nil, s.cookies()), 200)
		if !strings.Contains(string(csv.body), "如何填写拜访记录") {
			t.Errorf("the report CSV lacks the video:\n%s", csv.body)
		}
		ts.must(ts.call("GET", "/console/training/videos/nope", "", nil, s.cookies()), 404)
		dash := string(ts.must(ts.call("GET", "/console/", "", nil, s.cookies(), en), 200).body)
		for _, want := range []string{`href="/console/training/videos/` + videoID + `"`, `id="training-link" href="/console/training"`} {
			if !strings.Contains(dash, want) {
				t.Errorf("the dashboard's training panel lacks %s", want)
			}
		}
	})

	t.Run("edits the metadata and the assignment, then unpublishes", func(t *testing.T) {
		ts := ts.with(t)
		edit := url.Values{"title": {"拜访记录（新版）"}, "departments": {"Sales, IT"}, "language": {"zh-CN"}, "category": {"CRM"}}
		ts.must(ts.consolePost(s, "/console/training/videos/"+videoID, url.Values{"title": {""}}, en), 400)
		ts.must(ts.consolePost(s, "/console/training/videos/"+videoID, edit), 303)
		v := apiVideo(videoID)
		if v.Title != "拜访记录（新版）" || v.Required || v.DueAt != "" || len(v.Departments) != 2 || len(v.Roles) != 0 {
			t.Errorf("the API's video after the edit: %+v", v)
		}
		ts.must(ts.consolePost(s, "/console/training/videos/"+videoID+"/publish", url.Values{"published": {"maybe"}}), 400)
		ts.must(ts.consolePost(s, "/console/training/videos/"+videoID+"/publish", url.Values{"published": {"false"}}), 303)
		if v := apiVideo(videoID); v.Published {
			t.Errorf("the video is still published: %+v", v)
		}
		// Unpublished, it still previews for ops: that is when they check it.
		page := ts.must(ts.call("GET", "/console/training/videos/"+videoID, "", nil, s.cookies(), en), 200)
		if !strings.Contains(string(page.body), `<video id="tr-player" controls`) || !strings.Contains(string(page.body), "offline.mp4") {
			t.Errorf("the unpublished video's page has no preview:\n%s", page.body)
		}
		ts.must(ts.consolePost(s, "/console/training/videos/"+videoID+"/retry", nil), 409) // not failed
	})

	t.Run("retries a failed video and deletes one", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(s, "/console/training/videos", url.Values{"title": {"Retry me"}}), 303)
		id := strings.TrimPrefix(r.header.Get("Location"), "/console/training/videos/")
		path := ts.consoleUploadVideo(s, id, trainingClip(t))
		objectID, _, _ := strings.Cut(path[strings.LastIndexByte(path, '/')+1:], "+")
		if err := ts.main.store.Delete(t.Context(), media.Uploads, upload.ObjectPrefix+"/"+objectID); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_, _ = ts.main.training.RunOne(t.Context()) // fails: the source is gone
		}
		if v := apiVideo(id); v.Status != "failed" || v.Failure == "" {
			t.Fatalf("after losing the source: %+v", v)
		}
		page := string(ts.must(ts.call("GET", "/console/training/videos/"+id, "", nil, s.cookies(), en), 200).body)
		if !strings.Contains(page, `id="tr-failure"`) || !strings.Contains(page, `id="tr-retry"`) {
			t.Errorf("the failed video's page lacks the reason or the retry button:\n%s", page)
		}
		ts.must(ts.consolePost(s, "/console/training/videos/"+id+"/retry", url.Values{"csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(s, "/console/training/videos/"+id+"/retry", nil), 303)
		if v := apiVideo(id); v.Status != "uploaded" {
			t.Errorf("after the console's retry: %+v", v)
		}
		ts.must(ts.consolePost(s, "/console/training/videos/"+id+"/delete", nil), 400) // not confirmed
		r = ts.must(ts.consolePost(s, "/console/training/videos/"+id+"/delete", url.Values{"confirm": {"1"}}), 303)
		if loc := r.header.Get("Location"); loc != "/console/training" {
			t.Errorf("after deleting, the console goes to %q", loc)
		}
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+id, opsToken, nil), 404)
	})

	t.Run("audits every change, the file uploads too", func(t *testing.T) {
		ts := ts.with(t)
		_, as := ts.consoleSignIn("admin", "admin-passphrase-1")
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200).body)
		for _, want := range []string{"training.create", "training.update", "training.retry", "training.delete", "拜访记录（新版）",
			"training.upload", `""filename"":""clip.mp4""`} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit export lacks %s:\n%s", want, audit)
			}
		}
	})
}
