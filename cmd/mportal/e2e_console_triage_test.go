package main

import (
	"encoding/csv"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/feedback"
)

// alicePhoto has alice's phone attach a photo to fbA1 and upload it with tus in one go; it
// returns the photo's bytes.
func (f *feedbackFixture) alicePhoto(t *testing.T) []byte {
	t.Helper()
	ts := f.ts.with(t)
	photo := noisyPNG(t)
	if res := ts.syncPush(f.alice.token, 0, attachmentRecord(len(photo))); res.Accepted != 1 {
		t.Fatalf("attachment record: %+v", res)
	}
	meta := tusMeta("purpose", feedback.UploadPurpose, "filetype", "image/png", "filename", "crash.png", "attachment_id", "attA1")
	created := ts.must(ts.call("POST", "/v1/uploads", f.alice.token, nil, withHeader("Tus-Resumable", "1.0.0"),
		withHeader("Upload-Length", strconv.Itoa(len(photo))), withHeader("Upload-Metadata", meta)), 201)
	loc, err := url.Parse(created.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	ts.must(ts.call("PATCH", loc.Path, f.alice.token, string(photo), tusHeaders(0)...), 204)
	return photo
}

// approvalDelivered sets up integration "feishu" with a callback OA on loopback, has approver
// M1 approve task T1 on the phone and waits until the decision's callback is logged delivered.
func approvalDelivered(t *testing.T, ts *testServer, admin string) *callbackOA {
	t.Helper()
	_, otp := ts.createUser(admin, map[string]any{"employee_no": "M1", "name": "Mia Manager", "department": "Sales",
		"roles": []string{"employee", "approver"}})
	m1 := ts.signIn("M1", otp, "M1-passphrase-long", "M1-phone").AccessToken
	oa := newCallbackOA(t)
	var created struct{ Secret string }
	ts.must(ts.call("POST", "/v1/admin/integrations", admin, map[string]any{
		"source": "feishu", "name": "Feishu", "callback_url": oa.srv.URL + "/callback"}), 201).json(t, &created)
	oa.mu.Lock()
	oa.secret = created.Secret
	oa.mu.Unlock()
	now := time.Now().UTC()
	body := fmt.Sprintf(`{"type":"approval.task.created","timestamp":%q,"data":{`+
		`"instance":{"id":"I1","flow_code":"EXP","flow_name":"Expenses","title":"Trip to Chengdu","applicant":{"employee_no":"A1","name":"Ann","department":"Sales"},`+
		`"summary":[{"label":"Amount","value":"¥1,200"}],"attachments":[],"deep_link":"https://oa.example.com/i/I1","status":"PENDING","version":1},`+
		`"task":{"id":"T1","node_id":"mgr","node_name":"Manager","node_mode":"OR","approver_employee_no":"M1","status":"PENDING",`+
		`"created_at":%q,"due_at":null,"actions":[{"action":"approve","reason_required":false},{"action":"reject","reason_required":true}],`+
		`"action_context":"opaque-ctx-1","version":1}}}`, now.Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339))
	ts.must(ts.call("POST", "/v1/integrations/feishu/events", "", body,
		withHeader("webhook-id", "msg_1"), withHeader("webhook-timestamp", strconv.FormatInt(now.Unix(), 10)),
		withHeader("webhook-signature", approval.Sign(created.Secret, "msg_1", now, []byte(body)))), 202)
	(&fakeOA{ts: ts, source: "feishu"}).result("msg_1")
	ts.must(ts.call("POST", "/v1/approvals/feishu:T1/decision", m1, map[string]any{"action": "reject", "reason": "Too expensive", "idempotency_key": "k-1"}), 200)
	eventually(t, 30*time.Second, "the callback is delivered", func() bool { _, a, _ := oa.counts(); return a == 1 })
	return oa
}

// TestConsoleTriage drives the feedback triage and approvals screens over HTTP: filters, the
// photo's presigned URL and the CSP that allows it, each triage form through the feedback
// service (checked through the API and the author's pull), audited; the approvals screens'
// roles and the replay of a delivery.
func TestConsoleTriage(t *testing.T) {
	f := newFeedbackFixture(t)
	ts := f.ts
	f.aliceReports(t)
	f.alicePhoto(t)
	if res := ts.syncPush(f.alice.token, 0, feedbackChanges("feedback", feedbackRecord("fbA3", "=HYPERLINK(\"http://evil\")", false))); res.Accepted != 1 {
		t.Fatalf("formula feedback: %+v", res)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	_, ops := ts.consoleSignIn("E9000", "E9000-passphrase")
	_, admin := ts.consoleSignIn("admin", "admin-passphrase-1")

	t.Run("ops filter and search the table, page it and export it, formulas defused", func(t *testing.T) {
		ts := ts.with(t)
		page := ts.must(ts.call("GET", "/console/feedback?status=new&category=bug&app_id=portal&department=Field+Ops&q=SCANNER&from="+today+"&to="+today,
			"", nil, ops.cookies(), withHeader("Accept-Language", "en")), 200)
		body := string(page.body)
		if !strings.Contains(body, `id="feedback-fbA1"`) || strings.Contains(body, `id="feedback-fbA2"`) || !strings.Contains(body, `href="/console/feedback/fbA1"`) {
			t.Fatalf("the filtered table:\n%s", body)
		}
		if got := page.header.Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("the table's CSP %q", got)
		}
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		if body := string(ts.must(ts.call("GET", "/console/feedback?to="+yesterday, "", nil, ops.cookies()), 200).body); strings.Contains(body, `id="feedback-fbA1"`) {
			t.Errorf("feedback received today is listed up to yesterday")
		}
		var p struct{ Code, Field string }
		p.Code, p.Field = ts.must(ts.call("GET", "/console/feedback?from=yesterday", "", nil, ops.cookies()), 400).consoleProblem()
		if p.Code != "invalid" || p.Field != "from" {
			t.Errorf("a bad date: %+v", p)
		}
		ts.must(ts.call("GET", "/v1/ops/feedback?from="+yesterday+"&to=2000-01-01", f.ops, nil), 400)
		csvBody := ts.must(ts.call("GET", "/console/feedback.csv?q=HYPERLINK", "", nil, ops.cookies()), 200).body
		rows, err := csv.NewReader(strings.NewReader(string(csvBody))).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][0] != "fbA3" || !strings.HasPrefix(rows[1][13], "'=") {
			t.Fatalf("the export (%v):\n%s", err, csvBody)
		}
	})

	t.Run("the detail shows the photo from MinIO, which only its page's CSP allows", func(t *testing.T) {
		ts := ts.with(t)
		page := ts.must(ts.call("GET", "/console/feedback/fbA1", "", nil, ops.cookies(), withHeader("Accept-Language", "en")), 200)
		body := string(page.body)
		i := strings.Index(body, `<img src="`)
		if i < 0 || !strings.Contains(body, "Scanner crashes when offline") {
			t.Fatalf("no photo on the detail:\n%s", body)
		}
		src := strings.ReplaceAll(body[i+len(`<img src="`):i+strings.Index(body[i:], `" alt`)], "&amp;", "&")
		u, err := url.Parse(src)
		if err != nil || !strings.Contains(u.RawQuery, "X-Amz-Signature") {
			t.Fatalf("photo URL %q: %v", src, err)
		}
		csp := page.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "img-src 'self' data: "+u.Scheme+"://"+u.Host) || strings.Contains(csp, "script-src 'unsafe") {
			t.Errorf("the detail's CSP %q does not allow %s", csp, u.Host)
		}
		ts.must(ts.call("GET", "/console/feedback/nope", "", nil, ops.cookies()), 404)
	})

	t.Run("a status change and a reply go through the feedback service to the author, audited", func(t *testing.T) {
		ts := ts.with(t)
		path := "/console/feedback/fbA1"
		ts.must(ts.consolePost(ops, path, url.Values{"status": {"acknowledged"}, "csrf_token": {strings.Repeat("x", 43)}}), 403)
		ts.must(ts.consolePost(ops, path, url.Values{"status": {"acknowledged"}}, withHeader("Origin", "https://evil.example")), 403)
		if detail := string(ts.must(ts.call("GET", path, "", nil, ops.cookies()), 200).body); strings.Contains(detail, `<option value="in_progress"`) ||
			!strings.Contains(detail, `<option value="acknowledged"`) {
			t.Errorf("the status choices of new feedback:\n%s", detail)
		}
		ts.must(ts.consolePost(ops, path, url.Values{"status": {"in_progress"}}), 409)
		var p struct{ Code, Field string }
		p.Code, p.Field = ts.must(ts.consolePost(ops, path, url.Values{"status": {"gone"}}), 400).consoleProblem()
		if p.Field != "status" {
			t.Errorf("a bad status: %+v", p)
		}
		ts.must(ts.consolePost(ops, path, url.Values{}), 400)
		r := ts.must(ts.consolePost(ops, path, url.Values{"status": {"acknowledged"}, "assignee_id": {""}, "resolution": {"reproduced"}}), 303)
		if r.header.Get("Location") != path {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		ts.must(ts.consolePost(ops, path+"/replies", url.Values{"text": {"  "}}), 400)
		ts.must(ts.consolePost(ops, path+"/replies", url.Values{"text": {"Fixed in build 231, please update"}}), 303)

		var fb feedbackView
		ts.must(ts.call("GET", "/v1/feedback/fbA1", f.alice.token, nil), 200).json(t, &fb)
		if fb.Status != "acknowledged" || len(fb.Comments) != 1 || !fb.Comments[0].FromOps || fb.Comments[0].Text != "Fixed in build 231, please update" {
			t.Fatalf("the author's view after the console's triage: %+v", fb)
		}
		pulled := ts.syncPull(f.alice.token, 0)
		var status any
		for _, rec := range pulled.Changes["feedback"].Updated {
			if rec["id"] == "fbA1" {
				status = rec["status"]
			}
		}
		if status != "acknowledged" || len(pulled.Changes["feedback_comments"].Updated) != 1 {
			t.Errorf("alice pulls status %v and comments %v", status, pulled.Changes["feedback_comments"].Updated)
		}
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, admin.cookies()), 200).body)
		for _, want := range []string{"feedback.update", `""status"":""new""`, `""status"":""acknowledged""`, "feedback.reply", "Fixed in build 231"} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit export lacks %s:\n%s", want, audit)
			}
		}
	})

	t.Run("assigns to the viewer and merges a duplicate", func(t *testing.T) {
		ts := ts.with(t)
		var me struct{ ID string }
		ts.must(ts.call("GET", "/v1/me", f.ops, nil), 200).json(t, &me)
		detail := string(ts.must(ts.call("GET", "/console/feedback/fbA2", "", nil, ops.cookies()), 200).body)
		if !strings.Contains(detail, `<option value="`+me.ID+`"`) {
			t.Fatalf("ops cannot pick themselves as assignee:\n%s", detail)
		}
		ts.must(ts.consolePost(ops, "/console/feedback/fbA2", url.Values{"assignee_id": {f.alice.id}}), 400)
		ts.must(ts.consolePost(ops, "/console/feedback/fbA2", url.Values{"assignee_id": {me.ID}}), 303)
		ts.must(ts.consolePost(ops, "/console/feedback/fbA2/merge", url.Values{"into": {"fbA2"}}), 400)
		ts.must(ts.consolePost(ops, "/console/feedback/fbA2/merge", url.Values{"into": {"fbA1"}}, withHeader("Accept", "application/json")), 204)
		var fb struct {
			Status      string
			AssigneeID  string `json:"assignee_id"`
			DuplicateOf string `json:"duplicate_of"`
		}
		// The triage form of a duplicate keeps status duplicate, which only a merge sets.
		ts.must(ts.consolePost(ops, "/console/feedback/fbA2", url.Values{"status": {"duplicate"}, "assignee_id": {""}, "resolution": {"same as fbA1"}}), 303)
		ts.must(ts.call("GET", "/v1/ops/feedback/fbA2", f.ops, nil), 200).json(t, &fb)
		if fb.Status != "duplicate" || fb.DuplicateOf != "fbA1" || fb.AssigneeID != "" {
			t.Fatalf("the API after assigning and merging: %+v", fb)
		}
	})

	t.Run("pages the table 50 at a time, each item once, keeping the filter", func(t *testing.T) {
		ts := ts.with(t)
		bulk := make([]map[string]any, 50)
		for i := range bulk {
			bulk[i] = feedbackRecord(fmt.Sprintf("bulk%02d", i), fmt.Sprintf("Bulk report %d", i), false)
		}
		if res := ts.syncPush(f.alice.token, 0, feedbackChanges("feedback", bulk...)); res.Accepted != 50 {
			t.Fatalf("bulk feedback: %+v", res)
		}
		seen := map[string]int{}
		next := "/console/feedback?category=bug"
		for pages := 0; next != ""; pages++ {
			if pages == 3 {
				t.Fatal("more than two pages")
			}
			body := string(ts.must(ts.call("GET", next, "", nil, ops.cookies()), 200).body)
			for _, part := range strings.Split(body, `<tr id="feedback-`)[1:] {
				seen[part[:strings.Index(part, `"`)]]++
			}
			next = ""
			if i := strings.Index(body, `rel="next"`); i >= 0 {
				start := strings.LastIndex(body[:i], `href="`) + len(`href="`)
				next = strings.ReplaceAll(body[start:start+strings.Index(body[start:], `"`)], "&amp;", "&")
				if !strings.Contains(next, "category=bug") || !strings.Contains(next, "cursor=") {
					t.Errorf("the next page's link %q loses the filter", next)
				}
			}
		}
		if len(seen) != 53 {
			t.Errorf("%d items over the pages, want 53", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s listed %d times", id, n)
			}
		}
	})

	t.Run("ops read the approval statistics; integrations, deliveries and replay are for admins", func(t *testing.T) {
		ts := ts.with(t)
		oa := approvalDelivered(t, ts, f.admin)
		stats := string(ts.must(ts.call("GET", "/console/approvals", "", nil, ops.cookies(), withHeader("Accept-Language", "en")), 200).body)
		if !strings.Contains(stats, "Expenses (EXP)") || !strings.Contains(stats, "100.0%") || strings.Contains(stats, `href="/console/approvals/integrations"`) {
			t.Errorf("ops' statistics screen:\n%s", stats)
		}
		csvBody := string(ts.must(ts.call("GET", "/console/approvals.csv", "", nil, ops.cookies()), 200).body)
		if !strings.HasPrefix(csvBody, "level,flow_code,flow_name,node_id,node_name,tasks,") || !strings.Contains(csvBody, "EXP") {
			t.Errorf("the statistics CSV:\n%s", csvBody)
		}
		var p struct{ Code, Field string }
		p.Code, p.Field = ts.must(ts.call("GET", "/console/approvals?to=31-12-2026", "", nil, ops.cookies()), 400).consoleProblem()
		if p.Field != "to" {
			t.Errorf("a bad range: %+v", p)
		}
		ts.must(ts.call("GET", "/console/approvals/integrations", "", nil, ops.cookies()), 403)
		ts.must(ts.call("GET", "/console/approvals/integrations/feishu/deliveries", "", nil, ops.cookies()), 403)

		list := string(ts.must(ts.call("GET", "/console/approvals/integrations", "", nil, admin.cookies()), 200).body)
		if !strings.Contains(list, `id="integration-feishu"`) || strings.Contains(list, "whsec_") {
			t.Errorf("the integrations screen:\n%s", list)
		}
		ts.must(ts.call("GET", "/console/approvals/integrations/nope/deliveries", "", nil, admin.cookies()), 404)
		log := string(ts.must(ts.call("GET", "/console/approvals/integrations/feishu/deliveries", "", nil, admin.cookies()), 200).body)
		if !strings.Contains(log, "delivered") || !strings.Contains(log, "feishu:T1") {
			t.Fatalf("the delivery log:\n%s", log)
		}
		var deliveries struct{ Items []struct{ ID string } }
		ts.must(ts.call("GET", "/v1/admin/integrations/feishu/deliveries", f.admin, nil), 200).json(t, &deliveries)
		replay := "/console/approvals/integrations/feishu/deliveries/" + deliveries.Items[0].ID + "/replay"
		ts.must(ts.consolePost(ops, replay, nil), 403)
		ts.must(ts.consolePost(admin, replay, url.Values{"csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(admin, replay, nil), 303)
		eventually(t, 30*time.Second, "the replay reaches the OA", func() bool { r, _, _ := oa.counts(); return r == 2 })
		ts.must(ts.call("GET", "/v1/admin/integrations/feishu/deliveries", f.admin, nil), 200).json(t, &deliveries)
		if len(deliveries.Items) != 2 {
			t.Errorf("the API's delivery log after the replay: %+v", deliveries.Items)
		}
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, admin.cookies()), 200).body)
		if !strings.Contains(audit, "approval.replay") {
			t.Errorf("the audit export lacks the replay:\n%s", audit)
		}
	})

	t.Run("ops and admins set, change and delete reminder policies through the API's service, audited", func(t *testing.T) {
		ts := ts.with(t)
		en := withHeader("Accept-Language", "en")
		page := string(ts.must(ts.call("GET", "/console/approvals/reminders", "", nil, ops.cookies(), en), 200).body)
		if !strings.Contains(page, `id="policy-form"`) {
			t.Fatalf("the reminder policies screen:\n%s", page)
		}
		policy := url.Values{"flow_code": {"EXP"}, "remind_after_hours": {"4"}, "before_due_hours": {"2"}, "max_reminders": {"3"},
			"escalate_after_hours": {"24"}, "escalate_to": {"E9000, admin"}}
		ts.must(ts.consolePost(ops, "/console/approvals/reminders", policy), 303)
		type apiPolicy struct {
			FlowCode         string   `json:"flow_code"`
			RemindAfterHours float64  `json:"remind_after_hours"`
			MaxReminders     int      `json:"max_reminders"`
			EscalateTo       []string `json:"escalate_to"`
		}
		var list struct{ Items []apiPolicy }
		ts.must(ts.call("GET", "/v1/ops/approvals/reminder-policies", f.admin, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].FlowCode != "EXP" || list.Items[0].RemindAfterHours != 4 || list.Items[0].MaxReminders != 3 ||
			len(list.Items[0].EscalateTo) != 2 {
			t.Fatalf("the API shows %+v", list.Items)
		}
		edit := string(ts.must(ts.call("GET", "/console/approvals/reminders?flow=EXP", "", nil, admin.cookies(), en), 200).body)
		if !strings.Contains(edit, `id="rp-max_reminders" name="max_reminders" value="3"`) || !strings.Contains(edit, `id="policy-EXP"`) {
			t.Errorf("the form is not filled with EXP's policy:\n%s", edit)
		}
		for _, bad := range []struct{ field, value string }{{"max_reminders", "99"}, {"remind_after_hours", "soon"}} {
			form := url.Values{}
			for k, v := range policy {
				form[k] = v
			}
			form.Del("csrf_token") // set to ops' token by the post above
			form.Set(bad.field, bad.value)
			r := string(ts.must(ts.consolePost(admin, "/console/approvals/reminders", form, en), 400).body)
			if !strings.Contains(r, `name="`+bad.field+`" value="`+bad.value+`" min="0" step="any" aria-invalid="true"`) || !strings.Contains(r, bad.field) {
				t.Errorf("%s=%s is not refused on its field:\n%s", bad.field, bad.value, r)
			}
		}
		policy.Set("max_reminders", "5")
		policy.Del("csrf_token")
		ts.must(ts.consolePost(admin, "/console/approvals/reminders", policy), 303)
		ts.must(ts.consolePost(admin, "/console/approvals/reminders", url.Values{"csrf_token": {"forged"}, "flow_code": {"EXP"}}), 403)
		ts.must(ts.call("GET", "/v1/ops/approvals/reminder-policies", f.admin, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].MaxReminders != 5 {
			t.Fatalf("after the change the API shows %+v", list.Items)
		}
		ts.must(ts.consolePost(ops, "/console/approvals/reminders/EXP/delete", nil), 303)
		ts.must(ts.consolePost(ops, "/console/approvals/reminders/EXP/delete", nil), 404)
		ts.must(ts.call("GET", "/v1/ops/approvals/reminder-policies", f.admin, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("after the deletion the API shows %+v", list.Items)
		}
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, admin.cookies()), 200).body)
		for _, want := range []string{"approval.reminder_policy.set", "approval.reminder_policy.delete"} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit export lacks %s:\n%s", want, audit)
			}
		}
	})
}
