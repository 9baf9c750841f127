package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which deploy/dev/setup.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile and returns a tab. Everything it
// logs about the page (CSP violations, failed loads, console errors) is collected in logs.
func browser(t *testing.T) (ctx context.Context, logs func() []string) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the install page's browser test needs Chromium at %s (deploy/dev/setup.sh installs it): %v", chromiumPath, err)
	}
	// The profile is removed only once the browser has exited (t.TempDir's cleanup would race
	// with Chromium's last writes).
	profile, err := os.MkdirTemp("", "mportal-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	}
	// A bound on the whole browser session, so a hung browser fails the test instead of
	// hanging the suite (each step has its own minute); nothing is asserted about how long
	// anything takes. A whole console session takes ~15 s here: 15 min leaves room for CI.
	bounded, cancelBound := context.WithTimeout(context.Background(), 15*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		_ = chromedp.Cancel(tab) // closes the browser and waits for it to exit
		cancelTab()
		cancelAlloc()
		cancelBound()
		_ = os.RemoveAll(profile)
	})

	var mu sync.Mutex
	var seen []string
	chromedp.ListenTarget(tab, func(ev any) {
		var line string
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			// Two failed loads are by design: the sign-in page answers 401, and the page names
			// no favicon (an icon link would be one more request for every visitor).
			u, _ := url.Parse(e.Entry.URL)
			if e.Entry.Source == cdplog.SourceNetwork && u != nil &&
				(u.Path == "/favicon.ico" || u.Path == "/install/portal" && strings.Contains(e.Entry.Text, "status of 401")) {
				return
			}
			line = string(e.Entry.Level) + ": " + e.Entry.Text + " (" + e.Entry.URL + ")"
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				line = "console error"
			}
		}
		if line != "" {
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
		}
	})
	if err := chromedp.Run(tab, cdplog.Enable()); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tab, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// pageLayout is what the browser reports about the rendered page.
type pageLayout struct {
	Lang     string   `json:"lang"`
	Title    string   `json:"title"`
	Text     string   `json:"text"`
	Overflow []string `json:"overflow"` // buttons whose box is not inside their card
	Buttons  int      `json:"buttons"`
	IconOK   bool     `json:"iconOK"` // the icon element exists and its image decoded
	Wide     bool     `json:"wide"`   // the document is wider than the viewport
}

const measureLayout = `(() => {
  const overflow = [];
  const buttons = document.querySelectorAll('.card .btn');
  for (const b of buttons) {
    const card = b.closest('.card').getBoundingClientRect(), r = b.getBoundingClientRect();
    if (r.left < card.left - 0.5 || r.right > card.right + 0.5 || r.top < card.top - 0.5 || r.bottom > card.bottom + 0.5) {
      overflow.push(b.textContent + ': button ' + JSON.stringify(r) + ' card ' + JSON.stringify(card));
    }
  }
  const icon = document.getElementById('icon');
  return {lang: document.documentElement.lang, title: document.title, text: document.body.innerText, overflow,
    buttons: buttons.length, iconOK: !!icon && icon.complete && icon.naturalWidth > 0,
    wide: document.documentElement.scrollWidth > window.innerWidth};
})()`

// TestInstallPageInABrowser opens the install page as the staff who install see it: a
// zh-CN Chromium, on a phone and on a laptop, signing in through the page's own form.
func TestInstallPageInABrowser(t *testing.T) {
	ts, admin, _ := distributionServer(t)
	_, _ = ts.newEmployee(admin, "E3101", "Sales")
	shots := os.Getenv("MPORTAL_SCREENSHOTS") // a directory to keep the screenshots in, for people to look at

	for _, view := range []struct {
		name          string
		width, height int64
		mobile        bool
		ua            string
		download      bool // the page offers a download button
	}{
		{name: "phone", width: 390, height: 844, mobile: true, ua: uaAndroidPhone, download: true},
		{name: "laptop", width: 1280, height: 800, ua: uaDesktop, download: true},
	} {
		t.Run("on a "+view.name+" in Chinese", func(t *testing.T) {
			tab, logs := browser(t)
			look := func(step string) pageLayout {
				t.Helper()
				var l pageLayout
				var png []byte
				if err := chromedp.Run(tab, chromedp.Evaluate(measureLayout, &l), chromedp.FullScreenshot(&png, 100)); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				if shots != "" {
					if err := os.WriteFile(filepath.Join(shots, "install-"+view.name+"-"+step+".png"), png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if len(l.Overflow) > 0 || l.Wide {
					t.Errorf("%s: content spills out (page wider than the screen: %v): %s", step, l.Wide, strings.Join(l.Overflow, "; "))
				}
				if l.Lang != "zh-CN" {
					t.Errorf("%s: <html lang=%q>, want zh-CN", step, l.Lang)
				}
				return l
			}
			err := chromedp.Run(tab,
				chromedp.EmulateViewport(view.width, view.height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
					p.Mobile = view.mobile
				}),
				emulation.SetUserAgentOverride(view.ua).WithAcceptLanguage("zh-CN,zh;q=0.9"),
				chromedp.Navigate(ts.base+"/install/portal"),
				chromedp.WaitVisible(`input[name="login"]`),
			)
			if err != nil {
				t.Fatal(err)
			}
			form := look("sign-in")
			if form.Title != "App portal · 安装" || !strings.Contains(form.Text, "登录后安装") || !strings.Contains(form.Text, "工号或邮箱") {
				t.Errorf("sign-in page titled %q reads:\n%s", form.Title, form.Text)
			}

			// Bound the sign-in on its own, so that the tab is still there to say where it got to.
			signIn, cancel := context.WithTimeout(tab, time.Minute)
			defer cancel()
			err = chromedp.Run(signIn,
				chromedp.SendKeys(`input[name="login"]`, "E3101"),
				chromedp.SendKeys(`input[name="password"]`, "E3101-passphrase"),
				chromedp.Click(`button[type="submit"]`),
				chromedp.WaitVisible(`section.offer`),
				// The icon is an image of its own; wait until the browser is done with it.
				chromedp.Poll(`document.getElementById('icon') && document.getElementById('icon').complete`, nil),
			)
			if err != nil {
				var where string
				_ = chromedp.Run(tab, chromedp.Evaluate(`location.href + "\n" + document.body.innerText`, &where))
				t.Fatalf("sign in through the form: %v\nthe browser shows %s\nbrowser log: %v", err, where, logs())
			}
			page := look("offer")
			if !page.IconOK {
				t.Error("the app icon did not load")
			}
			if view.download && page.Buttons == 0 {
				t.Error("no download button")
			}
			for _, want := range []string{"下载 APK", "构建 100", "渠道 stable", "更新说明"} {
				if !strings.Contains(page.Text, want) {
					t.Errorf("the page lacks %q:\n%s", want, page.Text)
				}
			}
			for _, english := range []string{"Download", "Build ", "channel", "Scan with"} {
				if strings.Contains(page.Text, english) {
					t.Errorf("a zh-CN page shows English %q:\n%s", english, page.Text)
				}
			}
			for _, line := range logs() {
				// A CSP that blocked the page's own style sheet or an image would show here.
				t.Errorf("the browser logged: %s", line)
			}
		})
	}
}
