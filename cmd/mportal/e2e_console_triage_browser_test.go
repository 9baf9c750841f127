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
	b.run(t, "set the screen", emulation.SetUserAgentOverride("Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36").WithAcceptLanguage(lang),
		chromedp.EmulateViewport(width, height, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			p.Mobile = mobile
		}))
	return b
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
	deadline := time.Now().Add(30 * time.Second)
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
			t.Fatalf("%s: not within 30s (%v)\nthe browser shows %s", what, err, where)
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
		chromedp.WaitVisible(`nav`),
	)
}

func (b *consoleBrowser) signOut(t *testing.T) {
	t.Helper()
	b.run(t, "sign out", chromedp.Click(`header form button`), chromedp.WaitVisible(`#login`))
}

// cspViolations fails the test on every CSP violation the browser reported.
func (b *consoleBrowser) cspViolations(t *testing.T) {
	t.Helper()
	var csp []string
	for _, l := range b.logs() {
		if strings.Contains(l, "Content Security Policy") || strings.Contains(l, "Refused to") {
			csp = append(csp, l)
		}
	}
	if len(csp) > 0 {
		t.Errorf("the browser reported CSP violations:\n%s", strings.Join(csp, "\n"))
	}
}

// photoShown is true once every photo on the page has loaded (a photo the CSP blocked never
// does).
const photoShown = `Array.from(document.querySelectorAll('ul.photos img')).every(i => i.complete && i.naturalWidth > 0) && document.querySelectorAll('ul.photos img').length > 0`

// TestConsoleTriageInABrowser triages alice's feedback in Chromium on a laptop in English: the
// table with a search, the detail with her photo from MinIO, a status change and a reply —
// checked through the API and alice's pull — then the approvals screens with a delivered
// callback, replayed by an admin. The same screens are photographed on a phone in Chinese.
func TestConsoleTriageInABrowser(t *testing.T) {
	f := newFeedbackFixture(t)
	ts := f.ts
	f.aliceReports(t)
	f.alicePhoto(t)
	oa := approvalDelivered(t, ts, f.admin)

	t.Run("ops triage feedback on a laptop, in English", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 1280, 800, false, "en-US,en;q=0.9")
		b.signIn(t, "E9000", "E9000-passphrase")
		b.run(t, "open the feedback", chromedp.Click(`a[href="/console/feedback"]`), chromedp.WaitVisible(`#feedback-fbA2`))
		b.run(t, "search for the scanner", chromedp.SendKeys(`#fb-q`, "scanner"), chromedp.Submit(`#fb-q`),
			chromedp.WaitNotPresent(`#feedback-fbA2`), chromedp.WaitVisible(`#feedback-fbA1`))
		if s := b.look(t, "laptop-en-feedback"); !strings.Contains(s.Text, "Scanner crashes when offline") || !strings.Contains(s.Title, "Feedback") {
			t.Errorf("the feedback table reads:\n%s", s.Text)
		}
		var shown bool
		b.run(t, "open fbA1 and see its photo", chromedp.Click(`a[href="/console/feedback/fbA1"]`), chromedp.WaitVisible(`#fb-reply`),
			chromedp.Poll(photoShown, &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "laptop-en-feedback-detail")

		b.run(t, "acknowledge it", chromedp.SetValue(`#fb-set-status`, "acknowledged", chromedp.ByQuery),
			chromedp.Click(`form.triage button`))
		b.waitFor(t, "the status shown acknowledged", `document.getElementById('fb-status-now')?.textContent === 'acknowledged'`)
		b.run(t, "reply to alice", chromedp.SendKeys(`#fb-reply`, "Fixed in build 231, please update"),
			chromedp.Click(`form.reply button`))
		b.waitFor(t, "the reply in the conversation", `document.querySelector('ol.conversation li.ops') !== null`)
		if s := b.look(t, "laptop-en-feedback-triaged"); !strings.Contains(s.Text, "Fixed in build 231") {
			t.Errorf("the conversation lacks the reply:\n%s", s.Text)
		}
		api := ts.with(t)
		var fb feedbackView
		api.must(api.call("GET", "/v1/feedback/fbA1", f.alice.token, nil), 200).json(t, &fb)
		if fb.Status != "acknowledged" || len(fb.Comments) != 1 || !fb.Comments[0].FromOps || fb.Comments[0].Text != "Fixed in build 231, please update" {
			t.Errorf("alice's view of fbA1 after the console's triage: %+v", fb)
		}
		pulled := api.syncPull(f.alice.token, 0)
		var replies []string
		for _, c := range pulled.Changes["feedback_comments"].Updated {
			if c["from_ops"] == true {
				replies = append(replies, c["text"].(string))
			}
		}
		if len(replies) != 1 || replies[0] != "Fixed in build 231, please update" {
			t.Errorf("alice's phone pulls the replies %q", replies)
		}

		b.run(t, "open the approvals", chromedp.Click(`a[href="/console/approvals"]`), chromedp.WaitVisible(`#ap-total`))
		if s := b.look(t, "laptop-en-approvals"); !strings.Contains(s.Text, "Expenses (EXP)") || !strings.Contains(s.Text, "Expenses / Manager") ||
			strings.Contains(s.Text, "Integrations") {
			t.Errorf("ops' approval statistics read:\n%s", s.Text)
		}
		b.signOut(t)

		b.signIn(t, "admin", "admin-passphrase-1")
		b.run(t, "open the integrations", chromedp.Click(`a[href="/console/approvals"]`), chromedp.Click(`a[href="/console/approvals/integrations"]`),
			chromedp.WaitVisible(`#integration-feishu`))
		b.look(t, "laptop-en-approvals-integrations")
		b.run(t, "open the delivery log", chromedp.Click(`#integration-feishu a`), chromedp.WaitVisible(`main table tbody tr`))
		if s := b.look(t, "laptop-en-approvals-deliveries"); !strings.Contains(s.Text, "delivered") {
			t.Errorf("the delivery log reads:\n%s", s.Text)
		}
		b.run(t, "replay the delivery", chromedp.Click(`main table tbody tr form button`))
		eventually(t, 30*time.Second, "the replay reaches the OA", func() bool { r, _, _ := oa.counts(); return r == 2 })
		b.run(t, "reload the delivery log", chromedp.Navigate(ts.base+"/console/approvals/integrations/feishu/deliveries"), chromedp.WaitVisible(`main table`))
		b.waitFor(t, "the replay in the log", `document.querySelectorAll('main table tbody tr').length === 2`)
		var log struct{ Items []struct{ Trigger string } }
		api.must(api.call("GET", "/v1/admin/integrations/feishu/deliveries", f.admin, nil), 200).json(t, &log)
		if len(log.Items) != 2 || log.Items[0].Trigger != "replay" {
			t.Errorf("the API's delivery log after the console's replay: %+v", log.Items)
		}
		b.cspViolations(t)
	})

	t.Run("the same screens on a phone, in Chinese", func(t *testing.T) {
		b := newConsoleBrowser(t, ts, 390, 844, true, "zh-CN,zh;q=0.9")
		b.signIn(t, "admin", "admin-passphrase-1")
		b.run(t, "open the feedback", chromedp.Navigate(ts.base+"/console/feedback"), chromedp.WaitVisible(`#feedback-fbA1`))
		if s := b.look(t, "phone-zh-feedback"); s.Lang != "zh-CN" || !strings.Contains(s.Text, "已确认") {
			t.Errorf("the feedback table (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		var shown bool
		b.run(t, "open fbA1", chromedp.Navigate(ts.base+"/console/feedback/fbA1"), chromedp.WaitVisible(`#fb-reply`),
			chromedp.Poll(photoShown, &shown, chromedp.WithPollingTimeout(20*time.Second)))
		b.look(t, "phone-zh-feedback-detail")
		b.run(t, "open the approvals", chromedp.Navigate(ts.base+"/console/approvals"), chromedp.WaitVisible(`#ap-total`))
		if s := b.look(t, "phone-zh-approvals"); !strings.Contains(s.Text, "驳回率") {
			t.Errorf("the approvals screen reads:\n%s", s.Text)
		}
		b.run(t, "open the delivery log", chromedp.Navigate(ts.base+"/console/approvals/integrations/feishu/deliveries"), chromedp.WaitVisible(`main table`))
		b.look(t, "phone-zh-approvals-deliveries")
		b.cspViolations(t)
	})
}
