package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axePath is axe-core as deploy/dev/setup.sh installs it (internal/console/axetest), for tests only.
const axePath = "../../internal/console/axetest/node_modules/axe-core/axe.min.js"

// artifactsDir is where the browser tests write their screenshots: $MPORTAL_ARTIFACTS, else
// testdata/artifacts (git-ignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MPORTAL_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleScreen is what the browser reports about a console screen.
type consoleScreen struct {
	Lang  string `json:"lang"`
	Title string `json:"title"`
	Text  string `json:"text"`
	Wide  bool   `json:"wide"` // the document is wider than the viewport
}

const readScreen = `({lang: document.documentElement.lang, title: document.title, text: document.body.innerText,
  wide: document.documentElement.scrollWidth > window.innerWidth})`

// axeCritical runs axe-core on the page and returns its critical violations (and, for the log,
// the serious ones).
const axeCritical = `axe.run(document, {resultTypes: ['violations']}).then(r => ({
  critical: r.violations.filter(v => v.impact === 'critical').map(v => v.id + ': ' + v.help + ' ' + v.nodes.map(n => n.target.join(' ')).join(', ')),
  serious: r.violations.filter(v => v.impact === 'serious').map(v => v.id + ': ' + v.help)}))`

// TestConsoleInABrowser signs in to the console in Chromium and goes through its screens on a
// laptop in English and on a phone in Chinese: every screen is photographed into the artifacts
// folder and checked by axe-core, and what the browser changed is checked through the API.
func TestConsoleInABrowser(t *testing.T) {
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("the console's accessibility check needs axe-core (deploy/dev/setup.sh installs it): %v", err)
	}
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	employeeID, _ := ts.newEmployee(admin, "E4101", "Sales")
	ts.createApp(ops, "portal")
	_, track := ts.publishAPK(ops, "portal", 100, "stable", 20)
	releaseID := track.Releases[0].ID
	shots := artifactsDir(t)

	tab, logs := browser(t)
	// look photographs the screen, runs axe-core on it and returns what it shows.
	look := func(t *testing.T, name string) consoleScreen {
		t.Helper()
		var s consoleScreen
		var png []byte
		var found struct{ Critical, Serious []string }
		err := chromedp.Run(tab,
			chromedp.Evaluate(readScreen, &s),
			chromedp.FullScreenshot(&png, 90), // JPEG at quality 90
			chromedp.Evaluate(string(axe), nil),
			chromedp.Evaluate(axeCritical, &found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "console-"+name+".jpg"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(found.Critical) > 0 {
			t.Errorf("%s: critical accessibility violations:\n%s", name, strings.Join(found.Critical, "\n"))
		}
		if len(found.Serious) > 0 {
			t.Logf("%s: serious accessibility findings: %s", name, strings.Join(found.Serious, "; "))
		}
		if s.Wide {
			t.Errorf("%s: the page is wider than the screen", name)
		}
		return s
	}
	view := func(width, height int64, mobile bool, lang string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.EmulateViewport(width, height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
				p.Mobile = mobile
			}),
			emulation.SetUserAgentOverride("Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36").WithAcceptLanguage(lang),
		}
	}
	run := func(t *testing.T, what string, tasks ...chromedp.Action) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, time.Minute)
		defer cancel()
		if err := chromedp.Run(ctx, tasks...); err != nil {
			var where string
			_ = chromedp.Run(tab, chromedp.Evaluate(`location.href + "\n" + document.body.innerText`, &where))
			t.Fatalf("%s: %v\nthe browser shows %s\nbrowser log: %v", what, err, where, logs())
		}
	}
	signIn := func(t *testing.T, login, password string) {
		run(t, "sign in as "+login,
			chromedp.Navigate(ts.base+"/console/"),
			chromedp.WaitVisible(`#login`),
			chromedp.SendKeys(`#login`, login),
			chromedp.SendKeys(`#password`, password),
			chromedp.Click(`form.login button[type="submit"]`),
			chromedp.WaitVisible(`nav`),
		)
	}

	t.Run("an admin on a laptop, in English", func(t *testing.T) {
		run(t, "open the console", view(1280, 800, false, "en-US,en;q=0.9"), chromedp.Navigate(ts.base+"/console/"), chromedp.WaitVisible(`#login`))
		if s := look(t, "laptop-en-sign-in"); s.Lang != "en" || !strings.Contains(s.Text, "Employee number") {
			t.Errorf("sign-in page (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		signIn(t, "admin", "admin-passphrase-1")
		if s := look(t, "laptop-en-dashboard"); !strings.Contains(s.Title, "Dashboard") {
			t.Errorf("dashboard titled %q", s.Title)
		}

		run(t, "open the apps", chromedp.Click(`a[href="/console/apps"]`), chromedp.WaitVisible(`#release-`+releaseID))
		look(t, "laptop-en-apps")
		run(t, "raise the release to 40%", chromedp.SetValue(`#percent-`+releaseID, "40"),
			chromedp.Click(`#release-`+releaseID+` form button`), chromedp.WaitVisible(`#confirm`), chromedp.Click(`#confirm`),
			chromedp.WaitVisible(`#percent-`+releaseID+`[value="40"]`, chromedp.ByQuery))
		var tracks struct{ Items []e2eTrack }
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/apps/portal/tracks", ops, nil), 200).json(t, &tracks)
		if len(tracks.Items) != 1 || tracks.Items[0].Releases[0].Percent != 40 {
			t.Errorf("the API's tracks after raising in the console: %+v", tracks.Items)
		}

		run(t, "search the users", chromedp.Click(`a[href="/console/users"]`), chromedp.WaitVisible(`#q`),
			chromedp.SendKeys(`#q`, "E4101"), chromedp.Submit(`#q`),
			// The row is on the page before the search too: wait for the page of the search.
			chromedp.WaitVisible(`#q[value="E4101"]`, chromedp.ByQuery), chromedp.WaitVisible(`#user-`+employeeID))
		look(t, "laptop-en-users")
		run(t, "disable E4101", chromedp.Click(`#user-`+employeeID+` button`),
			chromedp.WaitReady(`#user-`+employeeID+` input[value="active"]`, chromedp.ByQuery))
		if st := userStatus(ts.with(t), admin, employeeID); st != "disabled" {
			t.Errorf("the API says E4101 is %q after the console disabled it", st)
		}

		run(t, "open the audit log", chromedp.Click(`a[href="/console/audit"]`),
			chromedp.WaitVisible(`main table td.json`, chromedp.ByQuery))
		if s := look(t, "laptop-en-audit"); !strings.Contains(s.Text, "user.status") || !strings.Contains(s.Text, `"status":"disabled"`) {
			t.Errorf("the audit log lacks the change:\n%s", s.Text)
		}
		run(t, "sign out", chromedp.Click(`header form button`), chromedp.WaitVisible(`#login`))
	})

	t.Run("ops on a phone, in Chinese, without the admins' screens", func(t *testing.T) {
		run(t, "phone view", view(390, 844, true, "zh-CN,zh;q=0.9"))
		signIn(t, "OPS1", "OPS1-passphrase")
		s := look(t, "phone-zh-dashboard")
		if s.Lang != "zh-CN" || !strings.Contains(s.Text, "概览") || strings.Contains(s.Text, "审计日志") {
			t.Errorf("ops' dashboard (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		run(t, "open the users screen", chromedp.Navigate(ts.base+"/console/users"), chromedp.WaitVisible(`main h1`))
		if s := look(t, "phone-zh-denied"); !strings.Contains(s.Text, "无权访问") {
			t.Errorf("ops opened the users screen:\n%s", s.Text)
		}
	})

	t.Run("an employee is turned away", func(t *testing.T) {
		run(t, "sign out ops", chromedp.Navigate(ts.base+"/console/"), chromedp.WaitVisible(`header form button`),
			chromedp.Click(`header form button`), chromedp.WaitVisible(`#login`))
		// E4101 was disabled above; a fresh employee tries.
		_, _ = ts.with(t).newEmployee(admin, "E4102", "Sales")
		run(t, "sign in as an employee", chromedp.SendKeys(`#login`, "E4102"), chromedp.SendKeys(`#password`, "E4102-passphrase"),
			chromedp.Click(`form.login button[type="submit"]`), chromedp.WaitVisible(`main h1`))
		if s := look(t, "phone-zh-employee"); !strings.Contains(s.Text, "控制台仅供运维和管理员使用") {
			t.Errorf("the employee sees:\n%s", s.Text)
		}
	})

	var csp []string
	for _, l := range logs() {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Refused to") {
			csp = append(csp, l)
		}
	}
	if len(csp) > 0 {
		t.Errorf("the browser reported CSP violations:\n%s", strings.Join(csp, "\n"))
	}
	fmt.Fprintf(os.Stderr, "console screenshots in %s\n", shots)
}
