package main

import (
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
)

// TestApprovalEventsSurviveARestart accepts an OA event (202) while the event worker is held,
// stops the whole server before the event is applied, and starts a new one on the same data:
// the new server applies it once — the approver holds the task and gets one push — and the
// OA's redelivery of it is a duplicate.
func TestApprovalEventsSurviveARestart(t *testing.T) {
	fake, fenv, configure := fakeFCM(t)
	env := testEnv(t, fenv)
	ts := startServer(t, env, configure)
	admin := ts.adminToken()
	boss := ts.newMember(admin, "E7101", "Sales", "en", "android")
	var created struct{ Secret string }
	ts.must(ts.call("POST", "/v1/admin/integrations", admin, jsonObj{"source": "feishu", "name": "Feishu",
		"callback_url": "http://127.0.0.1:9/callback"}), 201).json(t, &created)
	oa := &fakeOA{ts: ts, source: "feishu", secret: created.Secret}

	ts.main.approvals.PauseEvents() // the server stops before it applies anything
	ev := oaTaskEvent(approval.EventTaskCreated, oaInstance("I1", 1, "PENDING"), oaTask("T1", "E7101", 1, "PENDING"))
	var res approval.IngestResult
	ts.must(oa.sendAs("m-restart", time.Now(), ev), 202).json(t, &res)
	if res.Result != approval.ResultAccepted {
		t.Fatalf("answer: %+v", res)
	}
	ts.must(ts.call("GET", "/v1/approvals/feishu:T1", boss.token, nil), 404)
	ts.stop()

	again := startServer(t, env, configure)
	oa.ts = again
	if got := oa.result("m-restart"); got != approval.ResultApplied {
		t.Fatalf("after the restart: %s", got)
	}
	again.must(again.call("GET", "/v1/approvals/feishu:T1", boss.token, nil), 200)
	eventually(t, 30*time.Second, "the task's push", func() bool { return fake.Count(boss.pushTokens[0]) >= 1 })
	again.must(oa.sendAs("m-restart", time.Now(), ev), 200).json(t, &res)
	if res.Result != approval.ResultDuplicate {
		t.Fatalf("redelivery: %+v", res)
	}
	again.main.approvals.PauseEvents()() // a pass that was running has ended
	if n := fake.Count(boss.pushTokens[0]); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}
}
