package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

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
