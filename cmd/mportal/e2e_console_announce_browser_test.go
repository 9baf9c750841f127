package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mportal/mportal/internal/testenv"
)

// consoleTab is a Chromium tab on the console for one test: it photographs each screen into the
// artifacts folder, runs axe-core on it, and collects what the browser logs.
type consoleTab struct {
	t     *testing.T
	tab   context.Context
	logs  func() []string
	axe   []byte
	shots string
}

func newConsoleTab(t *testing.T) *consoleTab {
	t.Helper()
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("the console's accessibility check needs axe-core (deploy/dev/setup.sh installs it): %v", err)
	}
	tab, logs := browser(t)
	return &consoleTab{t: t, tab: tab, logs: logs, axe: axe, shots: artifactsDir(t)}
}

// run runs the tasks, failing the test with what the browser shows when they fail.
func (b *consoleTab) run(what string, tasks ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, tasks...); err != nil {
		var where string
		_ = chromedp.Run(b.tab, chromedp.Evaluate(`location.href + "\n" + document.body.innerText`, &where))
		b.t.Fatalf("%s: %v\nthe browser shows %s\nbrowser log: %v", what, err, where, b.logs())
	}
}

// look photographs the screen as console-<name>.jpg, checks it with axe-core (no critical
// violations) and for horizontal overflow, and returns what it shows.
func (b *consoleTab) look(name string) consoleScreen {
	b.t.Helper()
	var s consoleScreen
	var png []byte
	var found struct{ Critical, Serious []string }
	b.run("look at "+name,
		chromedp.Evaluate(readScreen, &s),
		chromedp.FullScreenshot(&png, 90),
		chromedp.Evaluate(string(b.axe), nil),
		chromedp.Evaluate(axeCritical, &found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err := os.WriteFile(filepath.Join(b.shots, "console-"+name+".jpg"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if len(found.Critical) > 0 {
		b.t.Errorf("%s: critical accessibility violations:\n%s", name, strings.Join(found.Critical, "\n"))
	}
	if len(found.Serious) > 0 {
		b.t.Logf("%s: serious accessibility findings: %s", name, strings.Join(found.Serious, "; "))
	}
	if s.Wide {
		b.t.Errorf("%s: the page is wider than the screen", name)
	}
	return s
}

// view sets the viewport and the browser's language.
func (b *consoleTab) view(width, height int64, mobile bool, lang string) {
	b.t.Helper()
	b.run("set the view", chromedp.EmulateViewport(width, height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
		p.Mobile = mobile
	}), emulation.SetUserAgentOverride("Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36").WithAcceptLanguage(lang))
}

// signIn signs in on the console's form.
func (b *consoleTab) signIn(base, login, password string) {
	b.t.Helper()
	b.run("sign in as "+login, chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(`#login`),
		chromedp.SendKeys(`#login`, login), chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form.login button[type="submit"]`), chromedp.WaitVisible(`nav`))
}

// noCSPViolations fails the test if the browser reported a Content-Security-Policy violation.
func (b *consoleTab) noCSPViolations() {
	b.t.Helper()
	for _, l := range b.logs() {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Refused to") {
			b.t.Errorf("the browser reported a CSP violation: %s", l)
		}
	}
}

// imagesShown is true once the page has images matching selector and every one has loaded (an
// image the CSP blocked never does).
func imagesShown(selector string) string {
	return `(() => { const imgs = Array.from(document.querySelectorAll('` + selector + `'));
	  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); })()`
}

// TestConsoleAnnouncementsInABrowser composes and schedules an announcement in Chromium on a
// laptop in English, checks the API's view of it, moves the server's clock past its time and
// sees it published, on a phone in Chinese; banners and what's-new cards are created through
// their forms. Every screen is photographed and checked by axe-core, and the browser must
// report no CSP violation.
func TestConsoleAnnouncementsInABrowser(t *testing.T) {
	clock := testenv.NewClock(time.Date(2031, 5, 4, 8, 0, 0, 0, time.UTC))
	clock.Run()
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure, func(m *Main) { m.Clock = clock.Now })
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	ts.newOps(admin, "E7100")
	alice := ts.newMember(admin, "E7101", "Field Ops", "en", "android", "ios")
	ts.newMember(admin, "E7102", "Field Ops", "zh-CN", "android")
	ts.newMember(admin, "E7103", "Sales", "en", "android")
	opsToken := func() string { return ts.login("E7100", "E7100-passphrase", "E7100-tablet").AccessToken }
	picture := filepath.Join(t.TempDir(), "banner.png")
	if err := os.WriteFile(picture, pngBytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	body := "Fire drill on **Friday** at 10:00.\n\n- meet at gate 3\n- bring your badge"
	var publishAt time.Time
	var id string

	t.Run("ops compose and schedule an announcement on a laptop, in English", func(t *testing.T) {
		b := newConsoleTab(t)
		b.view(1280, 900, false, "en-US,en;q=0.9")
		b.signIn(ts.base, "E7100", "E7100-passphrase")
		b.run("open the announcements", chromedp.Click(`nav a[href="/console/announcements"]`), chromedp.WaitVisible(`nav.tabs`))
		b.look("laptop-en-announcements")
		b.run("compose", chromedp.Click(`main a.button`), chromedp.WaitVisible(`#title`))
		publishAt = clock.Now().Add(10 * time.Minute).UTC().Truncate(time.Minute)
		b.run("write the draft",
			chromedp.SendKeys(`#title`, "Fire drill"),
			// The last letter is typed, so that the live preview (a static script) renders the body.
			chromedp.SetValue(`#body`, body[:len(body)-1]),
			chromedp.SendKeys(`#body`, body[len(body)-1:]),
			chromedp.WaitVisible(`#live-preview li`),
			chromedp.Click(`#importance-important`),
			chromedp.SendKeys(`#departments`, "Field Ops"),
			chromedp.SetValue(`#publish_at`, publishAt.Format("2006-01-02T15:04")),
			chromedp.Click(`#preview-button`),
			chromedp.WaitVisible(`#preview`))
		var live string
		b.run("read the live preview", chromedp.InnerHTML(`#live-preview`, &live))
		if !strings.Contains(live, "<strong>Friday</strong>") || !strings.Contains(live, "<li>bring your badge</li>") {
			t.Errorf("the live preview shows %q", live)
		}
		s := b.look("laptop-en-compose-preview")
		if !strings.Contains(s.Text, "Estimated reach") || !strings.Contains(s.Text, "2 users, 3 devices") || !strings.Contains(s.Text, "meet at gate 3") {
			t.Errorf("the preview reads:\n%s", s.Text)
		}
		b.run("review", chromedp.Click(`#review-button`), chromedp.WaitVisible(`#confirm`))
		s = b.look("laptop-en-compose-confirm")
		if !strings.Contains(s.Text, "scheduled for "+publishAt.Format("2006-01-02T15:04")+" UTC") || !strings.Contains(s.Text, "2 users") {
			t.Errorf("the confirmation reads:\n%s", s.Text)
		}
		b.run("confirm", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#status`))
		s = b.look("laptop-en-announcement-scheduled")
		if !strings.Contains(s.Text, "scheduled") {
			t.Errorf("the announcement's page reads:\n%s", s.Text)
		}

		// The API's view: scheduled, for Field Ops, with the body as typed.
		var list struct {
			Items []struct {
				ID, Title, Body, Status, Importance string
				PublishAt                           time.Time `json:"publish_at"`
				Audience                            struct{ Departments []string }
			}
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/announcements", opsToken(), nil), 200).json(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("the API lists %+v", list.Items)
		}
		a := list.Items[0]
		id = a.ID
		if a.Status != "scheduled" || a.Title != "Fire drill" || a.Body != body || a.Importance != "important" ||
			!a.PublishAt.Equal(publishAt) || len(a.Audience.Departments) != 1 || a.Audience.Departments[0] != "Field Ops" {
			t.Errorf("the API shows %+v, want scheduled at %s for Field Ops", a, publishAt)
		}

		// Ops edit the scheduled announcement: a later time, a new title and a cover image, which
		// the confirmation and the announcement's page show from MinIO.
		publishAt = publishAt.Add(5 * time.Minute)
		b.run("edit the announcement",
			chromedp.Navigate(ts.base+"/console/announcements/"+id), chromedp.WaitVisible(`#edit`),
			chromedp.Click(`#edit`), chromedp.WaitVisible(`#editing`),
			chromedp.SetValue(`#title`, "Fire drill (moved)"),
			chromedp.SetValue(`#publish_at`, publishAt.Format("2006-01-02T15:04")),
			chromedp.SetUploadFiles(`#cover`, []string{picture}),
			chromedp.Click(`#review-button`), chromedp.WaitVisible(`#confirm`))
		var shown bool
		b.run("see the cover in the confirmation", chromedp.Poll(imagesShown("img.cover"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		s = b.look("laptop-en-edit-confirm")
		if !strings.Contains(s.Text, "Save changes") || !strings.Contains(s.Text, publishAt.Format("2006-01-02T15:04")+" UTC") {
			t.Errorf("the edit's confirmation reads:\n%s", s.Text)
		}
		b.run("save the edit", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#status`),
			chromedp.Poll(imagesShown("#cover-image"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look("laptop-en-announcement-edited")
		var edited struct {
			Title, Status string
			PublishAt     time.Time `json:"publish_at"`
			CoverImage    *string   `json:"cover_image"`
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/announcements/"+id, opsToken(), nil), 200).json(t, &edited)
		if edited.Title != "Fire drill (moved)" || edited.Status != "scheduled" || !edited.PublishAt.Equal(publishAt) || edited.CoverImage == nil {
			t.Errorf("after the edit the API shows %+v, want scheduled at %s with a cover", edited, publishAt)
		}

		b.run("open the banners", chromedp.Click(`nav.tabs a[href="/console/banners"]`), chromedp.WaitVisible(`#new-title`))
		start := clock.Now().UTC()
		b.run("create a banner",
			chromedp.SendKeys(`#new-title`, "Welcome"),
			chromedp.SetUploadFiles(`#new-image`, []string{picture}),
			chromedp.SetValue(`#new-starts_at`, start.Format("2006-01-02T15:04")),
			chromedp.SetValue(`#new-ends_at`, start.Add(72*time.Hour).Format("2006-01-02T15:04")),
			chromedp.Click(`#new-public`),
			chromedp.Submit(`#new-title`),
			chromedp.WaitVisible(`section.item`))
		b.run("see the banner's image", chromedp.Poll(imagesShown("img.banner-image"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look("laptop-en-banners")
		var banners struct {
			Items []struct {
				Title    string
				ImageKey string `json:"image_key"`
				Public   bool
			}
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/banners", opsToken(), nil), 200).json(t, &banners)
		if len(banners.Items) != 1 || banners.Items[0].Title != "Welcome" || banners.Items[0].ImageKey == "" || !banners.Items[0].Public {
			t.Errorf("the API's banners %+v", banners.Items)
		}

		b.run("open the what's-new cards", chromedp.Click(`nav.tabs a[href="/console/whats-new"]`), chromedp.WaitVisible(`#app_id`))
		b.run("create a card",
			chromedp.SendKeys(`#app_id`, "com.example.portal"),
			chromedp.SendKeys(`#build_number`, "120"),
			chromedp.SendKeys(`#title_en`, "Offline forms"),
			chromedp.SendKeys(`#body_en`, "Fill in forms without signal."),
			chromedp.Submit(`#app_id`),
			chromedp.WaitVisible(`tr[data-card]`))
		b.look("laptop-en-whatsnew")
		var cards struct {
			Items []struct{ Title map[string]string }
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/whats-new?app=com.example.portal", opsToken(), nil), 200).json(t, &cards)
		if len(cards.Items) != 1 || cards.Items[0].Title["en"] != "Offline forms" {
			t.Errorf("the API's cards %+v", cards.Items)
		}
		b.run("sign out", chromedp.Click(`header form button`), chromedp.WaitVisible(`#login`))
		b.noCSPViolations()
	})
	if id == "" {
		t.FailNow()
	}

	// The server's clock passes the publication time; its publisher publishes the announcement.
	clock.Advance(publishAt.Sub(clock.Now()) + time.Minute)
	eventually(t, 30*time.Second, "the scheduled announcement published", func() bool {
		var a opsAnnouncement
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/announcements/"+id, opsToken(), nil), 200).json(t, &a)
		return a.Status == "published"
	})
	eventually(t, 30*time.Second, "alice's phones pushed", func() bool {
		return fake.Count(alice.pushTokens[0]) == 1 && fake.Count(alice.pushTokens[1]) == 1
	})

	t.Run("the announcement shows as published, on a phone, in Chinese", func(t *testing.T) {
		b := newConsoleTab(t)
		b.view(390, 844, true, "zh-CN,zh;q=0.9")
		b.signIn(ts.base, "E7100", "E7100-passphrase")
		b.run("open the announcements", chromedp.Click(`nav a[href="/console/announcements"]`), chromedp.WaitVisible(`#announcement-`+id))
		s := b.look("phone-zh-announcements")
		if s.Lang != "zh-CN" || !strings.Contains(s.Text, "已发布") {
			t.Errorf("the list (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		b.run("open the announcement", chromedp.Click(`#announcement-`+id+` a`), chromedp.WaitVisible(`#status`))
		s = b.look("phone-zh-announcement")
		if !strings.Contains(s.Text, "已发布") || !strings.Contains(s.Text, "Field Ops") {
			t.Errorf("the announcement reads:\n%s", s.Text)
		}
		b.run("compose", chromedp.Navigate(ts.base+"/console/announcements/new"), chromedp.WaitVisible(`#title`))
		b.look("phone-zh-compose")
		b.run("banners", chromedp.Navigate(ts.base+"/console/banners"), chromedp.WaitVisible(`#new-title`))
		b.look("phone-zh-banners")
		b.run("what's new", chromedp.Navigate(ts.base+"/console/whats-new"), chromedp.WaitVisible(`#app_id`))
		b.look("phone-zh-whatsnew")
		b.noCSPViolations()
	})
}
