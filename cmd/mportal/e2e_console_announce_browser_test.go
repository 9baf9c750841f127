package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mportal/mportal/internal/testenv"
)

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
		b := newConsoleBrowser(t, ts, 1280, 900, false, "en-US,en;q=0.9")
		b.signIn(t, "E7100", "E7100-passphrase")
		b.run(t, "open the announcements", chromedp.Click(`nav a[href="/console/announcements"]`), chromedp.WaitVisible(`nav.tabs`))
		b.look(t, "laptop-en-announcements")
		b.run(t, "compose", chromedp.Click(`main a.button`), chromedp.WaitVisible(`#title`))
		publishAt = clock.Now().Add(10 * time.Minute).UTC().Truncate(time.Minute)
		b.run(t, "write the draft",
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
		b.run(t, "read the live preview", chromedp.InnerHTML(`#live-preview`, &live))
		if !strings.Contains(live, "<strong>Friday</strong>") || !strings.Contains(live, "<li>bring your badge</li>") {
			t.Errorf("the live preview shows %q", live)
		}
		s := b.look(t, "laptop-en-compose-preview")
		if !strings.Contains(s.Text, "Estimated reach") || !strings.Contains(s.Text, "2 users, 3 devices") || !strings.Contains(s.Text, "meet at gate 3") {
			t.Errorf("the preview reads:\n%s", s.Text)
		}
		b.run(t, "review", chromedp.Click(`#review-button`), chromedp.WaitVisible(`#confirm`))
		s = b.look(t, "laptop-en-compose-confirm")
		if !strings.Contains(s.Text, "scheduled for "+publishAt.Format("2006-01-02T15:04")+" UTC") || !strings.Contains(s.Text, "2 users") {
			t.Errorf("the confirmation reads:\n%s", s.Text)
		}
		b.run(t, "confirm", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#status`))
		s = b.look(t, "laptop-en-announcement-scheduled")
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
		b.run(t, "edit the announcement",
			chromedp.Navigate(ts.base+"/console/announcements/"+id), chromedp.WaitVisible(`#edit`),
			chromedp.Click(`#edit`), chromedp.WaitVisible(`#editing`),
			chromedp.SetValue(`#title`, "Fire drill (moved)"),
			chromedp.SetValue(`#publish_at`, publishAt.Format("2006-01-02T15:04")),
			chromedp.SetUploadFiles(`#cover`, []string{picture}),
			chromedp.Click(`#review-button`), chromedp.WaitVisible(`#confirm`))
		var shown bool
		b.run(t, "see the cover in the confirmation", chromedp.Poll(imagesShown("img.cover"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		s = b.look(t, "laptop-en-edit-confirm")
		if !strings.Contains(s.Text, "Save changes") || !strings.Contains(s.Text, publishAt.Format("2006-01-02T15:04")+" UTC") {
			t.Errorf("the edit's confirmation reads:\n%s", s.Text)
		}
		b.run(t, "save the edit", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#status`),
			chromedp.Poll(imagesShown("#cover-image"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-announcement-edited")
		var edited struct {
			Title, Status string
			PublishAt     time.Time `json:"publish_at"`
			CoverImage    *string   `json:"cover_image"`
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/announcements/"+id, opsToken(), nil), 200).json(t, &edited)
		if edited.Title != "Fire drill (moved)" || edited.Status != "scheduled" || !edited.PublishAt.Equal(publishAt) || edited.CoverImage == nil {
			t.Errorf("after the edit the API shows %+v, want scheduled at %s with a cover", edited, publishAt)
		}

		b.run(t, "open the banners", chromedp.Click(`nav.tabs a[href="/console/banners"]`), chromedp.WaitVisible(`#new-title`))
		start := clock.Now().UTC()
		b.run(t, "create a banner",
			chromedp.SendKeys(`#new-title`, "Welcome"),
			chromedp.SetUploadFiles(`#new-image`, []string{picture}),
			chromedp.SetValue(`#new-starts_at`, start.Format("2006-01-02T15:04")),
			chromedp.SetValue(`#new-ends_at`, start.Add(72*time.Hour).Format("2006-01-02T15:04")),
			chromedp.Click(`#new-public`),
			chromedp.Submit(`#new-title`),
			chromedp.WaitVisible(`section.item`))
		b.run(t, "see the banner's image", chromedp.Poll(imagesShown("img.banner-image"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-banners")
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

		b.run(t, "open the what's-new cards", chromedp.Click(`nav.tabs a[href="/console/whats-new"]`), chromedp.WaitVisible(`#app_id`))
		b.run(t, "create a card",
			chromedp.SendKeys(`#app_id`, "com.example.portal"),
			chromedp.SendKeys(`#build_number`, "120"),
			chromedp.SendKeys(`#title_en`, "Offline forms"),
			chromedp.SendKeys(`#body_en`, "Fill in forms without signal."),
			chromedp.Submit(`#app_id`),
			chromedp.WaitVisible(`tr[data-card]`))
		b.look(t, "laptop-en-whatsnew")
		var cards struct {
			Items []struct{ Title map[string]string }
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/whats-new?app=com.example.portal", opsToken(), nil), 200).json(t, &cards)
		if len(cards.Items) != 1 || cards.Items[0].Title["en"] != "Offline forms" {
			t.Errorf("the API's cards %+v", cards.Items)
		}
		b.signOut(t)
		b.cspViolations(t)
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
		b := newConsoleBrowser(t, ts, 390, 844, true, "zh-CN,zh;q=0.9")
		b.signIn(t, "E7100", "E7100-passphrase")
		b.run(t, "open the announcements", chromedp.Click(`nav a[href="/console/announcements"]`), chromedp.WaitVisible(`#announcement-`+id))
		s := b.look(t, "phone-zh-announcements")
		if s.Lang != "zh-CN" || !strings.Contains(s.Text, "已发布") {
			t.Errorf("the list (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		b.run(t, "open the announcement", chromedp.Click(`#announcement-`+id+` a`), chromedp.WaitVisible(`#status`))
		s = b.look(t, "phone-zh-announcement")
		if !strings.Contains(s.Text, "已发布") || !strings.Contains(s.Text, "Field Ops") {
			t.Errorf("the announcement reads:\n%s", s.Text)
		}
		b.run(t, "compose", chromedp.Navigate(ts.base+"/console/announcements/new"), chromedp.WaitVisible(`#title`))
		b.look(t, "phone-zh-compose")
		b.run(t, "banners", chromedp.Navigate(ts.base+"/console/banners"), chromedp.WaitVisible(`#new-title`))
		b.look(t, "phone-zh-banners")
		b.run(t, "what's new", chromedp.Navigate(ts.base+"/console/whats-new"), chromedp.WaitVisible(`#app_id`))
		b.look(t, "phone-zh-whatsnew")
		b.cspViolations(t)
	})

	t.Run("ops insert an image in the body, see it in the live preview and the review, and publish", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 1280, 900, false, "en-US,en;q=0.9")
		b.signIn(t, "E7100", "E7100-passphrase")
		entrance := filepath.Join(t.TempDir(), "east entrance.png")
		if err := os.WriteFile(entrance, pngBytes(t), 0o644); err != nil {
			t.Fatal(err)
		}
		var shown bool
		b.run(t, "compose with an inline image",
			chromedp.Navigate(ts.base+"/console/announcements/new"), chromedp.WaitVisible(`#body-image`),
			chromedp.SendKeys(`#title`, "Entrance"),
			chromedp.SetValue(`#body`, "The entrance is on the east side."),
			chromedp.SetUploadFiles(`#body-image`, []string{entrance}),
			chromedp.Poll(imagesShown("#live-preview img"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		var typed, alt string
		b.run(t, "read the body and the preview", chromedp.Value(`#body`, &typed),
			chromedp.AttributeValue(`#live-preview img`, "alt", &alt, nil))
		if !regexp.MustCompile(`^The entrance is on the east side\.\n\n!\[east entrance\]\(mportal-image:[0-9a-f]{32}\.png\)\n$`).MatchString(typed) || alt != "east entrance" {
			t.Errorf("the body reads %q, the preview's alt %q", typed, alt)
		}
		b.look(t, "laptop-en-compose-inline-image")
		b.run(t, "review", chromedp.SendKeys(`#departments`, "Sales"), chromedp.Click(`#review-button`), chromedp.WaitVisible(`#confirm`),
			chromedp.Poll(imagesShown("#preview img"), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-compose-inline-image-confirm")
		b.run(t, "publish", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#status`),
			chromedp.Poll(imagesShown(`main img[alt="east entrance"]`), &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-announcement-inline-image")
		b.cspViolations(t)

		var list struct {
			Items []struct {
				Title, Body, Status string
				BodyHTML            string `json:"body_html"`
			}
		}
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/announcements", opsToken(), nil), 200).json(t, &list)
		var found bool
		for _, a := range list.Items {
			if a.Title == "Entrance" {
				found = true
				if a.Body != typed || a.Status != "published" || !strings.Contains(a.BodyHTML, `X-Amz-Signature=`) || !strings.Contains(a.BodyHTML, `alt="east entrance"`) {
					t.Errorf("the API shows %+v", a)
				}
			}
		}
		if !found {
			t.Errorf("the API lists no Entrance: %+v", list.Items)
		}
	})
}
