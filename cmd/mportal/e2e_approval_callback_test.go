package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/approval"
)

// callbackOA is the OA's callback endpoint on loopback: it checks every signature with the
// integration's secret, hangs the first request until the client goes away (when told to), and
// applies each webhook-id once, as an OA that dedupes would.
type callbackOA struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	hang   bool
	got    map[string]int // webhook-id -> requests with a good signature
	done   map[string]bool
	bad    int
}

func newCallbackOA(t *testing.T) *callbackOA {
	oa := &callbackOA{got: map[string]int{}, done: map[string]bool{}}
	oa.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		sec, _ := strconv.ParseInt(ts, 10, 64)
		oa.mu.Lock()
		ok := r.Header.Get("webhook-signature") == approval.Sign(oa.secret, id, time.Unix(sec, 0), body)
		if !ok {
			oa.bad++
			oa.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		oa.got[id]++
		hang := oa.hang
		oa.mu.Unlock()
		if hang {
			<-r.Context().Done() // the server went away mid-request: nothing applied
			return
		}
		oa.mu.Lock()
		oa.done[id] = true
		oa.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(oa.srv.Close)
	return oa
}

func (oa *callbackOA) counts() (received, applied, bad int) {
	oa.mu.Lock()
	defer oa.mu.Unlock()
	for _, n := range oa.got {
		received += n
	}
	return received, len(oa.done), oa.bad
}

// TestApprovalCallbackSurvivesRestart decides a task on the phone, stops the whole server while
// the callback is in flight at the OA, and starts a new one on the same database: the OA
// applies the decision exactly once, the delivery log shows the interrupted and the delivered
// attempt, and an admin's replay sends the same webhook-id again.
func TestApprovalCallbackSurvivesRestart(t *testing.T) {
	env := testEnv(t, nil)
	ts := startServer(t, env)
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	_, otp := ts.createUser(admin, map[string]any{"employee_no": "M1", "name": "Mia Manager", "department": "Sales",
		"roles": []string{"employee", "approver"}})
	m1 := ts.signIn("M1", otp, "M1-passphrase-long", "M1-phone").AccessToken

	oa := newCallbackOA(t)
	var created struct{ Secret string }
	ts.must(ts.call("POST", "/v1/admin/integrations", admin, map[string]any{
		"source": "feishu", "name": "Feishu", "callback_url": oa.srv.URL + "/callback"}), 201).json(t, &created)
	oa.mu.Lock()
	oa.secret, oa.hang = created.Secret, true
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

	ts.must(ts.call("POST", "/v1/approvals/feishu:T1/decision", ops, map[string]any{"action": "approve", "idempotency_key": "ops-1"}), 404)
	ts.must(ts.call("POST", "/v1/approvals/feishu:T1/decision", m1, map[string]any{"action": "approve", "idempotency_key": "k-1"}), 200)
	eventually(t, 30*time.Second, "the callback reaches the OA", func() bool { r, _, _ := oa.counts(); return r == 1 })
	ts.stop() // mid-request: the OA is still holding it

	oa.mu.Lock()
	oa.hang = false
	oa.mu.Unlock()
	again := startServer(t, env)
	eventually(t, 30*time.Second, "the decision is applied after the restart", func() bool { _, a, _ := oa.counts(); return a == 1 })
	var log struct {
		Items []struct {
			ID, Outcome, Trigger string
			WebhookID            string `json:"webhook_id"`
		}
	}
	admin = again.login("admin", "admin-passphrase-1", "admin-laptop-2").AccessToken
	// The OA applies the decision before it answers; the server logs the outcome after.
	eventually(t, 30*time.Second, "the delivery logged", func() bool {
		again.must(again.call("GET", "/v1/admin/integrations/feishu/deliveries", admin, nil), 200).json(t, &log)
		return len(log.Items) == 2 && log.Items[0].Outcome != ""
	})
	if len(log.Items) != 2 || log.Items[0].Outcome != "delivered" || log.Items[1].Outcome != "interrupted" {
		t.Fatalf("delivery log: %+v", log.Items)
	}
	again.must(again.call("POST", "/v1/admin/integrations/feishu/deliveries/"+log.Items[0].ID+"/replay", admin, nil), 202)
	eventually(t, 30*time.Second, "the replay reaches the OA", func() bool { r, _, _ := oa.counts(); return r == 3 })
	if received, applied, bad := oa.counts(); applied != 1 || bad != 0 {
		t.Errorf("received %d, applied %d, bad signatures %d", received, applied, bad)
	}

	var st struct {
		Total struct {
			Tasks, Approved int
			ViaMobile       int `json:"via_mobile"`
		}
	}
	q := "?from=" + now.Add(-24*time.Hour).Format(time.RFC3339) + "&to=" + now.Add(24*time.Hour).Format(time.RFC3339)
	opsAgain := again.login("OPS1", "OPS1-passphrase", "OPS1-laptop-2").AccessToken
	again.must(again.call("GET", "/v1/ops/approvals/stats"+q, opsAgain, nil), 200).json(t, &st)
	if st.Total.Tasks != 1 || st.Total.Approved != 1 || st.Total.ViaMobile != 1 {
		t.Errorf("stats: %+v", st)
	}
	if log.Items[0].WebhookID != "decision_feishu:T1" || log.Items[0].WebhookID != log.Items[1].WebhookID {
		t.Errorf("webhook ids: %+v", log.Items)
	}
}
