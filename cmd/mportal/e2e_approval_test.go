package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
)

// fakeOA signs approval events as an OA system does (Standard Webhooks) and posts them to the
// server over loopback.
type fakeOA struct {
	ts             *testServer
	source, secret string
	n              int
}

// postAs signs ev as message id at the given time and posts it; once it is accepted (202) it
// waits until the server's event worker has processed it.
func (o *fakeOA) postAs(id string, at time.Time, ev any, opts ...func(*http.Request)) response {
	o.ts.t.Helper()
	r := o.sendAs(id, at, ev, opts...)
	if r.status == http.StatusAccepted {
		o.result(id)
	}
	return r
}

// sendAs signs ev as message id at the given time and posts it.
func (o *fakeOA) sendAs(id string, at time.Time, ev any, opts ...func(*http.Request)) response {
	o.ts.t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		o.ts.t.Fatal(err)
	}
	opts = append(opts, withHeader("webhook-id", id), withHeader("webhook-timestamp", strconv.FormatInt(at.Unix(), 10)),
		withHeader("webhook-signature", approval.Sign(o.secret, id, at, body)))
	return o.ts.call("POST", "/v1/integrations/"+o.source+"/events", "", string(body), opts...)
}

// result waits until the event accepted as id is processed and returns its result.
func (o *fakeOA) result(id string) string {
	o.ts.t.Helper()
	var res string
	eventually(o.ts.t, 30*time.Second, "event "+id+" processed", func() bool {
		st, err := o.ts.main.approvals.EventStatus(context.Background(), o.source, id)
		if err != nil {
			o.ts.t.Fatal(err)
		}
		res = st.Result
		return res != approval.ResultAccepted
	})
	return res
}

// post signs and posts ev with a fresh webhook-id at the server's time (the wall clock).
func (o *fakeOA) post(ev any, opts ...func(*http.Request)) response {
	o.n++
	return o.postAs(fmt.Sprintf("msg_%s_%d", o.source, o.n), time.Now(), ev, opts...)
}

type jsonObj = map[string]any

func oaInstance(id string, version int64, status string) jsonObj {
	return jsonObj{"id": id, "flow_code": "expense", "flow_name": "Expense claim", "title": "Trip to Shanghai",
		"applicant": jsonObj{"employee_no": "E7003", "name": "Wang Fang", "department": "Sales"},
		"summary":   []jsonObj{{"label": "Amount", "value": "¥3,200.00"}}, "attachments": []jsonObj{},
		"deep_link": "https://oa.example.com/m/" + id, "status": status, "version": version}
}

func oaTask(id, approver string, version int64, status string) jsonObj {
	return jsonObj{"id": id, "node_id": "manager", "node_name": "Manager review", "node_mode": "OR",
		"approver_employee_no": approver, "status": status, "created_at": time.Now().UTC().Format(time.RFC3339),
		"due_at": nil, "actions": []jsonObj{{"action": "approve", "reason_required": false}, {"action": "reject", "reason_required": true}},
		"action_context": "ctx", "version": version}
}

func oaTaskEvent(typ string, inst, task jsonObj) jsonObj {
	return jsonObj{"type": typ, "data": jsonObj{"instance": inst, "task": task}}
}

type approvalProblem struct {
	Code, Field string
	Data        struct {
		EmployeeNos []string              `json:"employee_nos"`
		Decision    approval.DecisionView `json:"decision"`
	}
}

func TestApprovalsEndToEnd(t *testing.T) {
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS7")
	boss := ts.newMember(admin, "E7001", "Sales", "en", "android", "ios")
	tablet := ts.login("E7001", "E7001-passphrase", "E7001-tablet").AccessToken
	other := ts.newMember(admin, "E7002", "Sales", "en", "android")

	var created struct {
		Integration approval.Integration
		Secret      string
		SecretID    string `json:"secret_id"`
	}
	ts.must(ts.call("POST", "/v1/admin/integrations", admin, jsonObj{"source": "feishu", "name": "Feishu",
		"callback_url": "http://127.0.0.1:9/callback"}), 201).json(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Integration.Secrets) != 1 {
		t.Fatalf("created: %+v", created)
	}
	oa := &fakeOA{ts: ts, source: "feishu", secret: created.Secret}

	t.Run("integrations are for admins; secrets are never listed", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/admin/integrations", ops, nil), 403)
		r := ts.must(ts.call("GET", "/v1/admin/integrations", admin, nil), 200)
		if strings.Contains(string(r.body), created.Secret[6:]) {
			t.Fatalf("the list shows the secret: %s", r.body)
		}
		ts.must(ts.call("GET", "/v1/admin/integrations/feishu", admin, nil), 200)
		ts.must(ts.call("PATCH", "/v1/admin/integrations/feishu", admin, jsonObj{"name": "Feishu approvals"}), 200)
	})

	var taskID string
	t.Run("a signed task event is applied once and pushes the approver", func(t *testing.T) {
		ts := ts.with(t)
		oa.ts = ts
		var res approval.IngestResult
		ev := oaTaskEvent(approval.EventTaskCreated, oaInstance("I1", 1, "PENDING"), oaTask("T1", "E7001", 1, "PENDING"))
		ts.must(oa.postAs("m-1", time.Now(), ev), 202).json(t, &res)
		if res.Result != "accepted" || oa.result("m-1") != approval.ResultApplied {
			t.Fatalf("result %+v, processed %s", res, oa.result("m-1"))
		}
		ts.must(oa.postAs("m-1", time.Now(), ev), 200).json(t, &res)
		if res.Result != "duplicate" {
			t.Fatalf("replay: %+v", res)
		}
		taskID = "feishu:T1"
		eventually(t, 30*time.Second, "the task's push on both devices", func() bool {
			return fake.Count(boss.pushTokens[0]) >= 1 && fake.Count(boss.pushTokens[1]) >= 1
		})
		for _, m := range fake.Messages() {
			if m.Data["task_id"] != taskID {
				continue
			}
			if strings.Contains(m.Title+m.Body, "3,200") || m.Data["reason_required"] != "reject" {
				t.Errorf("push %+v", m)
			}
			if m.Android != nil && (m.Android.ChannelID != "approvals" || m.Android.Priority != "high" || m.Android.Tag != "approval:"+taskID) {
				t.Errorf("android: %+v", m.Android)
			}
			if m.APNS != nil && (m.APNS.Category != "APPROVAL_ACTIONS" || m.APNS.Headers["apns-collapse-id"] != "approval:"+taskID) {
				t.Errorf("apns: %+v", m.APNS)
			}
		}
	})
	t.Run("refuses bad signatures, stale timestamps, bad payloads and unknown approvers", func(t *testing.T) {
		ts := ts.with(t)
		oa.ts = ts
		ev := oaTaskEvent(approval.EventTaskCreated, oaInstance("I2", 1, "PENDING"), oaTask("T2", "E7001", 1, "PENDING"))
		wrong := &fakeOA{ts: ts, source: "feishu", secret: "whsec_" + strings.Repeat("A", 43) + "="}
		var p approvalProblem
		ts.must(wrong.post(ev), 401).json(t, &p)
		if p.Field != "webhook-signature" {
			t.Fatalf("%+v", p)
		}
		ts.must(oa.postAs("m-stale", time.Now().Add(-6*time.Minute), ev), 401).json(t, &p)
		if p.Field != "webhook-timestamp" {
			t.Fatalf("%+v", p)
		}
		bad := oaTaskEvent(approval.EventTaskCreated, oaInstance("I2", 1, "PENDING"), oaTask("T2", "E7001", 1, "PENDING"))
		bad["data"].(jsonObj)["task"].(jsonObj)["node_mode"] = "ANY"
		ts.must(oa.post(bad, offContract), 400).json(t, &p)
		if p.Field != "data.task.node_mode" {
			t.Fatalf("%+v", p)
		}
		unknown := oaTaskEvent(approval.EventTaskCreated, oaInstance("I2", 1, "PENDING"), oaTask("T2", "E9999", 1, "PENDING"))
		ts.must(oa.post(unknown), 422).json(t, &p)
		if p.Code != "unknown_approvers" || fmt.Sprint(p.Data.EmployeeNos) != "[E9999]" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("the approver lists and reads the task; nobody else does", func(t *testing.T) {
		ts := ts.with(t)
		var page struct{ Items []approval.Summary }
		ts.must(ts.call("GET", "/v1/approvals?status=pending", boss.token, nil), 200).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].ID != taskID || page.Items[0].Status != "pending" {
			t.Fatalf("list: %+v", page)
		}
		ts.must(ts.call("GET", "/v1/approvals", other.token, nil), 200).json(t, &page)
		if len(page.Items) != 0 {
			t.Fatalf("another employee lists %+v", page)
		}
		var d approval.Detail
		ts.must(ts.call("GET", "/v1/approvals/"+taskID, boss.token, nil), 200).json(t, &d)
		if len(d.Fields) != 1 || d.Fields[0].Value != "¥3,200.00" || d.Decision != nil {
			t.Fatalf("detail %+v", d)
		}
		ts.must(ts.call("GET", "/v1/approvals/"+taskID, other.token, nil), 404)
		ts.must(ts.call("GET", "/v1/approvals/"+taskID, ops, nil), 404)
		ts.must(ts.call("POST", "/v1/approvals/"+taskID+"/decision", ops, jsonObj{"action": "approve", "idempotency_key": "ops"}), 404)
		ts.must(ts.call("POST", "/v1/approvals/"+taskID+"/decision", boss.token, jsonObj{"action": "reject", "idempotency_key": "r0"}), 400)
	})
	t.Run("concurrent decisions from two devices: exactly one wins", func(t *testing.T) {
		ts := ts.with(t)
		const n = 8
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[int]int{}
			winners  []approval.DecisionView
			told     []approval.DecisionView
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				token, body := boss.token, jsonObj{"action": "approve", "idempotency_key": fmt.Sprint("k", i)}
				if i%2 == 1 {
					token, body = tablet, jsonObj{"action": "reject", "reason": "budget", "idempotency_key": fmt.Sprint("k", i)}
				}
				r := ts.call("POST", "/v1/approvals/"+taskID+"/decision", token, body)
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				switch r.status {
				case 200:
					var d approval.DecisionView
					_ = json.Unmarshal(r.body, &d)
					winners = append(winners, d)
				case 409:
					var p approvalProblem
					_ = json.Unmarshal(r.body, &p)
					if p.Code == "already_decided" {
						told = append(told, p.Data.Decision)
					}
				}
			}()
		}
		wg.Wait()
		if statuses[200] != 1 || statuses[409] != n-1 || len(told) != n-1 {
			t.Fatalf("statuses %v", statuses)
		}
		for _, d := range told {
			if d.Action != winners[0].Action || !d.DecidedAt.Equal(winners[0].DecidedAt) {
				t.Fatalf("a loser was told %+v, the winner is %+v", d, winners[0])
			}
		}
		t.Run("a retry with the winner's key gets the same answer", func(t *testing.T) {
			// The winner's key is k<i> for the i that won: find it from the action.
			for i := range n {
				token, body := boss.token, jsonObj{"action": "approve", "idempotency_key": fmt.Sprint("k", i)}
				if i%2 == 1 {
					token, body = tablet, jsonObj{"action": "reject", "reason": "budget", "idempotency_key": fmt.Sprint("k", i)}
				}
				if r := ts.call("POST", "/v1/approvals/"+taskID+"/decision", token, body); r.status == 200 {
					return
				}
			}
			t.Fatal("no retry got the first answer")
		})
		eventually(t, 30*time.Second, "the silent withdrawal on both devices", func() bool {
			var android, ios bool
			for _, m := range fake.Messages() {
				if m.Data["task_id"] != taskID || m.Data["approval_event"] != "withdraw" || m.Title != "" {
					continue
				}
				android = android || (m.Token == boss.pushTokens[0] && m.Android != nil && m.Android.ChannelID == "")
				ios = ios || (m.Token == boss.pushTokens[1] && m.APNS != nil && m.APNS.Headers["apns-push-type"] == "background")
			}
			return android && ios
		})
	})
	t.Run("a withdrawn task cannot be decided, online or offline", func(t *testing.T) {
		ts := ts.with(t)
		oa.ts = ts
		ts.must(oa.post(oaTaskEvent(approval.EventTaskCreated, oaInstance("I3", 1, "PENDING"), oaTask("T3", "E7001", 1, "PENDING"))), 202)
		var pull struct {
			Changes map[string]struct{ Updated []approval.SyncRecord }
		}
		ts.must(ts.call("GET", "/v1/sync/pull?schema_version=3", boss.token, nil), 200).json(t, &pull)
		if len(pull.Changes["approvals"].Updated) != 2 {
			t.Fatalf("pull: %+v", pull.Changes["approvals"])
		}
		ts.must(oa.post(jsonObj{"type": approval.EventInstanceUpdated, "data": jsonObj{"instance": oaInstance("I3", 2, "CANCELED")}}), 202)
		var p approvalProblem
		ts.must(ts.call("POST", "/v1/approvals/feishu:T3/decision", boss.token, jsonObj{"action": "approve", "idempotency_key": "w"}), 409).json(t, &p)
		if p.Code != "task_closed" {
			t.Fatalf("%+v", p)
		}
		var res struct {
			Accepted int
			Rejected []struct{ Code, Field, Detail string }
		}
		ts.must(ts.call("POST", "/v1/sync/push", boss.token, jsonObj{"changes": jsonObj{"approval_decisions": jsonObj{
			"created": []jsonObj{{"id": "offline-1", "task_id": "feishu:T3", "action": "approve", "reason": "", "task_version": 1}}}}}), 200).json(t, &res)
		if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Code != "conflict" || !strings.Contains(res.Rejected[0].Detail, "withdrawn") {
			t.Fatalf("push: %+v", res)
		}
	})
	t.Run("offline decisions pushed at once by several approvers", func(t *testing.T) {
		// Applying a pushed decision closes its task with a sync write of its own: two such
		// pushes in flight once took both of the sync engine's groups, each waiting for its
		// inner write, and every sync write of the server stopped.
		ts := ts.with(t)
		oa.ts = ts
		const perApprover = 4
		type push struct{ token, task string }
		var pushes []push
		for i := range 2 * perApprover {
			approver, token := "E7001", boss.token
			if i%2 == 1 {
				approver, token = "E7002", other.token
			}
			id := fmt.Sprint("TP", i)
			ts.must(oa.post(oaTaskEvent(approval.EventTaskCreated, oaInstance("IP"+fmt.Sprint(i), 1, "PENDING"), oaTask(id, approver, 1, "PENDING"))), 202)
			pushes = append(pushes, push{token, "feishu:" + id})
		}
		var wg sync.WaitGroup
		results := make([]response, len(pushes))
		for i, p := range pushes {
			wg.Go(func() {
				results[i] = ts.call("POST", "/v1/sync/push", p.token, jsonObj{"changes": jsonObj{"approval_decisions": jsonObj{
					"created": []jsonObj{{"id": fmt.Sprint("offline-p", i), "task_id": p.task, "action": "approve", "reason": "", "task_version": 1}}}}})
			})
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(60 * time.Second):
			t.Fatal("the pushes never finished: the sync engine is stuck")
		}
		for i, r := range results {
			var res struct{ Accepted int }
			ts.must(r, 200).json(t, &res)
			if res.Accepted != 1 {
				t.Errorf("push %d: accepted %d, want 1: %s", i, res.Accepted, r.body)
			}
		}
		for _, p := range pushes {
			var d approval.Detail
			ts.must(ts.call("GET", "/v1/approvals/"+p.task, p.token, nil), 200).json(t, &d)
			if d.Decision == nil || d.Decision.Action != "approve" {
				t.Errorf("%s: decision %+v, want approve", p.task, d.Decision)
			}
		}
	})
	t.Run("delegation", func(t *testing.T) {
		ts := ts.with(t)
		oa.ts = ts
		now := time.Now().UTC()
		ts.must(ts.call("PUT", "/v1/me/delegation", boss.token, jsonObj{"delegate": "E7002",
			"from": now.Add(-time.Minute).Format(time.RFC3339), "to": now.Add(24 * time.Hour).Format(time.RFC3339)}), 200)
		ts.must(ts.call("GET", "/v1/me/delegation", boss.token, nil), 200)
		ts.must(oa.post(oaTaskEvent(approval.EventTaskCreated, oaInstance("I4", 1, "PENDING"), oaTask("T4", "E7001", 1, "PENDING"))), 202)
		var d approval.Detail
		ts.must(ts.call("GET", "/v1/approvals/feishu:T4", other.token, nil), 200).json(t, &d)
		if d.DelegatedFromEmployeeNo == nil || *d.DelegatedFromEmployeeNo != "E7001" {
			t.Fatalf("delegated task: %+v", d)
		}
		ts.must(ts.call("GET", "/v1/approvals/feishu:T4", boss.token, nil), 404)
		ts.must(ts.call("DELETE", "/v1/me/delegation", boss.token, nil), 204)
		ts.must(ts.call("GET", "/v1/me/delegation", boss.token, nil), 404)
	})
	t.Run("rotation keeps both secrets valid; revoking and deleting", func(t *testing.T) {
		ts := ts.with(t)
		var rot struct {
			Integration approval.Integration
			Secret      string
			SecretID    string `json:"secret_id"`
		}
		ts.must(ts.call("POST", "/v1/admin/integrations/feishu/secrets", admin, nil), 201).json(t, &rot)
		oldOA, newOA := &fakeOA{ts: ts, source: "feishu", secret: created.Secret, n: 100}, &fakeOA{ts: ts, source: "feishu", secret: rot.Secret, n: 200}
		ts.must(oldOA.post(jsonObj{"type": approval.EventInstanceUpdated, "data": jsonObj{"instance": oaInstance("I5", 1, "PENDING")}}), 202)
		ts.must(newOA.post(jsonObj{"type": approval.EventInstanceUpdated, "data": jsonObj{"instance": oaInstance("I5", 2, "PENDING")}}), 202)
		ts.must(ts.call("DELETE", "/v1/admin/integrations/feishu/secrets/"+created.SecretID, admin, nil), 200)
		ts.must(oldOA.post(jsonObj{"type": approval.EventInstanceUpdated, "data": jsonObj{"instance": oaInstance("I5", 3, "PENDING")}}), 401)
		ts.must(ts.call("DELETE", "/v1/admin/integrations/feishu", admin, nil), 204)
		ts.must(newOA.post(jsonObj{"type": approval.EventInstanceUpdated, "data": jsonObj{"instance": oaInstance("I5", 4, "PENDING")}}), 401)
	})
}
