package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// uploadChunk is the training page script's PATCH size (static/training.js).
const uploadChunk = 1 << 20

// trainingClipFile writes a 6 s 720p30 test clip with a tone for the browser to pick.
func trainingClipFile(t *testing.T) string {
	t.Helper()
	out := trainingClipAt(t, "visit-howto.mp4", 30, 6)
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 4*uploadChunk {
		t.Fatalf("the clip is %d bytes: too small to interrupt its upload twice", st.Size())
	}
	return out
}

// interruptUpload cuts the browser's upload to the console's tus endpoint twice: its second
// PATCH fails as a dropped connection would (Chromium's Fetch domain fails it before it
// leaves), and its fourth is held, never answered, until the page is reloaded. Every other
// request goes through. It returns how many PATCHes the browser sent.
func interruptUpload(t *testing.T, b *consoleBrowser) *atomic.Int32 {
	t.Helper()
	var patches atomic.Int32
	chromedp.ListenTarget(b.tab, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		n := int32(0)
		if e.Request.Method == "PATCH" {
			n = patches.Add(1)
		}
		if n == 4 {
			return // held: the reload abandons it
		}
		go func() {
			ctx := cdp.WithExecutor(b.tab, chromedp.FromContext(b.tab).Target)
			if n == 2 {
				_ = fetch.FailRequest(e.RequestID, network.ErrorReasonConnectionReset).Do(ctx)
				return
			}
			_ = fetch.ContinueRequest(e.RequestID).Do(ctx)
		}()
	})
	b.run(t, "watch the uploads", fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/console/training/uploads*"}}))
	return &patches
}

// TestConsoleTrainingInABrowser: upload a training video and watch it play. Ops create a
// video with the form on a laptop in English, pick the file, the upload is cut once and
// resumes from the server's offset, the page follows the processing until ready, and the
// preview <video> really plays; the API then shows the video ready with its metadata. The list
// is photographed on a phone in Chinese. axe-core on every screen, no CSP violation.
func TestConsoleTrainingInABrowser(t *testing.T) {
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_TRAINING_MAX_DURATION": "30s"}))
	admin := ts.adminToken()
	opsToken := ts.newOps(admin, "OPS1")
	clip := trainingClipFile(t)
	var videoID string

	t.Run("ops upload a video, interrupted twice, on a laptop in English", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 1280, 800, false, "en-US,en;q=0.9")
		b.signIn(t, "OPS1", "OPS1-passphrase")
		b.run(t, "open the training screen", chromedp.Click(`a[href="/console/training"]`), chromedp.WaitVisible(`#tr-create`))
		b.look(t, "laptop-en-training-empty")
		b.run(t, "fill the form",
			chromedp.SendKeys(`#title`, "How to log a customer visit"),
			chromedp.SendKeys(`#description`, "Three **steps**."),
			chromedp.SendKeys(`#category`, "CRM"),
			chromedp.SendKeys(`#tags`, "crm, visit"),
			chromedp.Click(`#role-employee`),
			chromedp.SendKeys(`#departments`, "Sales"),
			chromedp.Click(`#required`),
			chromedp.SetValue(`#due_at`, "2030-01-31T18:00", chromedp.ByQuery),
			chromedp.SetValue(`#language`, "en", chromedp.ByQuery),
			chromedp.Click(`#tr-create-submit`),
			chromedp.WaitVisible(`#tr-upload`))
		var loc string
		b.run(t, "read the video's address", chromedp.Evaluate(`location.pathname`, &loc))
		videoID = strings.TrimPrefix(loc, "/console/training/videos/")
		b.look(t, "laptop-en-training-video-new")

		patches := interruptUpload(t, b)
		resumedFrom := func(what string, want int) {
			t.Helper()
			b.waitFor(t, what, `document.getElementById('tr-upload')?.dataset.resumedFrom === '`+strconv.Itoa(want)+`'`)
		}
		b.run(t, "pick the file", chromedp.SetUploadFiles(`#tr-file`, []string{clip}, chromedp.ByID))
		// The second PATCH failed: the script asked the server (HEAD) and went on from its
		// offset, the first chunk, not from 0.
		resumedFrom("the upload resumed from the server's offset after the failed PATCH", uploadChunk)
		eventually(t, 2*time.Minute, "the fourth PATCH sent (and held)", func() bool { return patches.Load() >= 4 })
		b.look(t, "laptop-en-training-uploading")
		// The page is reloaded mid-upload: choosing the same file again finds the upload the
		// browser kept and continues from the server's offset, two chunks in.
		b.run(t, "reload the page mid-upload", chromedp.Reload(), chromedp.WaitVisible(`#tr-file`),
			chromedp.SetUploadFiles(`#tr-file`, []string{clip}, chromedp.ByID))
		resumedFrom("the upload resumed from the server's offset after the reload", 2*uploadChunk)
		b.waitFor(t, "the upload finished", `document.getElementById('tr-upload')?.dataset.finished === 'true' || ['uploaded', 'processing', 'ready'].includes(document.getElementById('tr-state')?.dataset.status)`)
		if n := patches.Load(); n < 6 {
			t.Errorf("the browser sent %d PATCHes, want the failed one, the held one and more", n)
		}
		b.cspViolations(t)
	})
	if videoID == "" {
		t.FailNow()
	}

	eventually(t, 8*time.Minute, "the video is ready", func() bool {
		var v trainingVideo
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+videoID, opsToken, nil), 200).json(t, &v)
		if v.Status == "failed" {
			t.Fatalf("processing failed: %s", v.Failure)
		}
		return v.Status == "ready"
	})

	t.Run("the preview plays on the video's page", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 1280, 800, false, "en-US,en;q=0.9")
		b.signIn(t, "OPS1", "OPS1-passphrase")
		b.run(t, "open the video", chromedp.Navigate(ts.base+"/console/training/videos/"+videoID), chromedp.WaitVisible(`#tr-player`))
		b.run(t, "press play", chromedp.Evaluate(`(() => { const v = document.getElementById('tr-player'); v.muted = true; v.play(); return true })()`, nil))
		b.waitFor(t, "the preview plays", `(() => { const v = document.getElementById('tr-player'); return v && !v.error && v.readyState >= 3 && v.currentTime > 1 })()`)
		var state struct {
			Time   float64 `json:"time"`
			Ready  int     `json:"ready"`
			Error  bool    `json:"error"`
			Width  int     `json:"width"`
			Poster bool    `json:"poster"`
		}
		b.run(t, "read the player", chromedp.Evaluate(`(() => { const v = document.getElementById('tr-player');
		  return {time: v.currentTime, ready: v.readyState, error: v.error !== null, width: v.videoWidth, poster: v.poster !== ''} })()`, &state))
		if state.Error || state.Ready < 3 || state.Time <= 1 || state.Width != 640 || !state.Poster {
			t.Errorf("the preview player: %+v", state)
		}
		if s := b.look(t, "laptop-en-training-video"); !strings.Contains(s.Text, "ready") || !strings.Contains(s.Text, "How to log a customer visit") {
			t.Errorf("the video's page reads:\n%s", s.Text)
		}
		b.run(t, "open the list", chromedp.Click(`a[href="/console/training"]`), chromedp.WaitVisible(`#video-`+videoID))
		var posterShown bool
		b.run(t, "see the poster", chromedp.Poll(`(() => { const i = document.querySelector('#video-`+videoID+` img.poster'); return !!i && i.complete && i.naturalWidth > 0 })()`,
			&posterShown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-training")
		b.cspViolations(t)
	})

	t.Run("the API shows the video ready with its metadata", func(t *testing.T) {
		ts := ts.with(t)
		var v struct {
			trainingVideo
			Title       string   `json:"title"`
			Category    string   `json:"category"`
			Tags        []string `json:"tags"`
			Roles       []string `json:"roles"`
			Departments []string `json:"departments"`
			Required    bool     `json:"required"`
			DueAt       string   `json:"due_at"`
			Language    string   `json:"language"`
			DurationMS  int64    `json:"duration_ms"`
		}
		ts.must(ts.call("GET", "/v1/ops/training/videos/"+videoID, opsToken, nil), 200).json(t, &v)
		if v.Status != "ready" || !v.Playable || v.Title != "How to log a customer visit" || v.Category != "CRM" ||
			strings.Join(v.Tags, ",") != "crm,visit" || strings.Join(v.Roles, ",") != "employee" || strings.Join(v.Departments, ",") != "Sales" ||
			!v.Required || v.DueAt != "2030-01-31T18:00:00Z" || v.Language != "en" || v.DurationMS < 5000 {
			t.Errorf("the API's video: %+v", v)
		}
	})

	t.Run("the list on a phone, in Chinese", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 390, 844, true, "zh-CN,zh;q=0.9")
		b.signIn(t, "OPS1", "OPS1-passphrase")
		b.run(t, "open the training screen", chromedp.Navigate(ts.base+"/console/training"), chromedp.WaitVisible(`#video-`+videoID))
		if s := b.look(t, "phone-zh-training"); s.Lang != "zh-CN" || !strings.Contains(s.Text, "可播放") {
			t.Errorf("the phone's training screen (%s) reads:\n%s", s.Lang, s.Text)
		}
		b.run(t, "open the video", chromedp.Navigate(ts.base+"/console/training/videos/"+videoID), chromedp.WaitVisible(`#tr-player`))
		b.look(t, "phone-zh-training-video")
		b.cspViolations(t)
	})
}
