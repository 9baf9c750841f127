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
)

// The console's browser tests share this one helper: a Chromium tab signed in to the console,
// whose every screen is photographed, checked by axe-core and for overflow, and whose log is
// read for CSP (and CORS) errors.

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

// consoleBrowser is one Chromium session on the console, with the steps the console's browser
// tests take: run (fail with what the browser shows), look (photograph, axe-core, width) and
// signIn.
type consoleBrowser struct {
	ts    *testServer
	tab   context.Context
	logs  func() []string
	axe   []byte
	shots string
}

func newConsoleBrowser(t *testing.T, ts *testServer, width, height int64, mobile bool, lang string) *consoleBrowser {
	t.Helper()
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("the console's accessibility check needs axe-core (deploy/dev/setup.sh installs it): %v", err)
	}
	tab, logs := browser(t)
	b := &consoleBrowser{ts: ts, tab: tab, logs: logs, axe: axe, shots: artifactsDir(t)}
	b.view(t, width, height, mobile, lang)
	return b
}

// view sets the screen (width and height in CSS pixels, a phone's when mobile) and the
// languages the browser asks for (its Accept-Language), for the screens opened from now on.
func (b *consoleBrowser) view(t *testing.T, width, height int64, mobile bool, lang string) {
	t.Helper()
	b.run(t, "set the screen", emulation.SetUserAgentOverride("Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36").WithAcceptLanguage(lang),
		chromedp.EmulateViewport(width, height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			p.Mobile = mobile
		}))
}

func (b *consoleBrowser) run(t *testing.T, what string, tasks ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, tasks...); err != nil {
		var where string
		_ = chromedp.Run(b.tab, chromedp.Evaluate(`location.href + "\n" + document.body.innerText`, &where))
		t.Fatalf("%s: %v\nthe browser shows %s\nbrowser log: %v", what, err, where, b.logs())
	}
}

// waitFor waits until the page, whichever it is by then (a form post navigates), says expr is
// true.
func (b *consoleBrowser) waitFor(t *testing.T, what, expr string) {
	t.Helper()
	b.waitForWithin(t, what, expr, 2*time.Minute) // a bound for a loaded CI machine, not a target
}

// waitForWithin is waitFor with a deadline of d.
func (b *consoleBrowser) waitForWithin(t *testing.T, what, expr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(expr, &ok))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var where string
			_ = chromedp.Run(b.tab, chromedp.Evaluate(`location.href + "\n" + document.body.innerText`, &where))
			t.Fatalf("%s: not within %s (%v)\nthe browser shows %s", what, d, err, where)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// look photographs the screen as console-<name>.jpg, fails on critical axe-core violations and
// on a page wider than the screen, and returns what the screen shows.
func (b *consoleBrowser) look(t *testing.T, name string) consoleScreen {
	t.Helper()
	var s consoleScreen
	var png []byte
	var found struct{ Critical, Serious []string }
	b.run(t, "look at "+name,
		chromedp.Evaluate(readScreen, &s),
		chromedp.FullScreenshot(&png, 90),
		chromedp.Evaluate(string(b.axe), nil),
		chromedp.Evaluate(axeCritical, &found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err := os.WriteFile(filepath.Join(b.shots, "console-"+name+".jpg"), png, 0o644); err != nil {
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

func (b *consoleBrowser) signIn(t *testing.T, login, password string) {
	t.Helper()
	b.run(t, "sign in as "+login,
		chromedp.Navigate(b.ts.base+"/console/"),
		chromedp.WaitVisible(`#login`),
		chromedp.SendKeys(`#login`, login),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form.login button[type="submit"]`),
	)
	// Not chromedp.WaitVisible: started while the form post navigates, it can keep watching the
	// old document until its deadline (seen once in a CI run under load, with the console
	// signed in on the screen). And the whole page, not only its nav: a look taken as soon as
	// the nav was there once read a dashboard that had only its heading (a CI run under load).
	b.waitForWithin(t, "signed in as "+login,
		`document.querySelector("nav") !== null && document.readyState === "complete"`, time.Minute)
}

func (b *consoleBrowser) signOut(t *testing.T) {
	t.Helper()
	b.run(t, "sign out", chromedp.Click(`header form button`))
	b.waitForWithin(t, "signed out", `document.querySelector("form.login #login") !== null`, time.Minute)
}

// signOutFromHome opens the console's home page, then signs out there: it works from any
// screen, an error page too.
func (b *consoleBrowser) signOutFromHome(t *testing.T) {
	t.Helper()
	b.run(t, "sign out", chromedp.Navigate(b.ts.base+"/console/"), chromedp.WaitVisible(`header form button`),
		chromedp.Click(`header form button`))
	b.waitForWithin(t, "signed out", `document.querySelector("form.login #login") !== null`, time.Minute)
}

// cspReports are the browser's log lines that report content the CSP refused.
var cspReports = []string{"Content Security Policy", "Refused to"}

// cspViolations fails the test on every CSP violation the browser reported.
func (b *consoleBrowser) cspViolations(t *testing.T) {
	t.Helper()
	b.failOnLog(t, "CSP violations", cspReports...)
}

// cspOrCORSErrors fails the test on every CSP violation or CORS error the browser reported
// (the apps screens upload straight to MinIO, cross-origin).
func (b *consoleBrowser) cspOrCORSErrors(t *testing.T) {
	t.Helper()
	b.failOnLog(t, "CSP or CORS errors", append(cspReports, "CORS")...)
}

// failOnLog fails the test, naming what, with every line of the browser's log that contains
// one of words.
func (b *consoleBrowser) failOnLog(t *testing.T, what string, words ...string) {
	t.Helper()
	var bad []string
	for _, l := range b.logs() {
		for _, w := range words {
			if strings.Contains(l, w) {
				bad = append(bad, l)
				break
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("the browser reported %s:\n%s", what, strings.Join(bad, "\n"))
	}
}
