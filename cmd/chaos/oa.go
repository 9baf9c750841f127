package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// oaSource is the fake OA's integration: events go to /v1/integrations/chaos-oa/events.
const oaSource = "chaos-oa"

// fakeOA is the OA system: it sends signed task events to mportal and records the decision
// callbacks mportal sends back, checking each signature.
type fakeOA struct {
	srv *httptest.Server
	key []byte // the integration's HMAC key (the secret after whsec_, decoded)

	mu        sync.Mutex
	tasks     []string // "<source>:<task id>" of every event mportal accepted
	callbacks []chaos.Callback
}

func startFakeOA() *fakeOA {
	oa := &fakeOA{}
	oa.srv = httptest.NewServer(http.HandlerFunc(oa.callback))
	return oa
}

// sign returns the Standard Webhooks signature of one message.
func (oa *fakeOA) sign(id, ts string, body []byte) string {
	mac := hmac.New(sha256.New, oa.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// callback records one decision callback; it answers 204 like an OA that stored it.
func (oa *fakeOA) callback(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	c := chaos.Callback{WebhookID: id}
	want := oa.sign(id, ts, body)
	for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			c.SignatureOK = true
		}
	}
	var msg struct {
		Data struct {
			TaskID    string    `json:"task_id"`
			Action    string    `json:"action"`
			DecidedAt time.Time `json:"decided_at"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Data.TaskID == "" {
		c.Malformed = true
	}
	c.Task = oaSource + ":" + msg.Data.TaskID
	c.Action, c.DecidedAt = msg.Data.Action, msg.Data.DecidedAt.UTC().Truncate(time.Second).Format(time.RFC3339)
	oa.mu.Lock()
	oa.callbacks = append(oa.callbacks, c)
	oa.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// register creates the integration as admin and keeps its secret.
func (oa *fakeOA) register(ctx context.Context, cl *client, admin string) error {
	var out struct {
		Secret string `json:"secret"`
	}
	if err := cl.retry(ctx, "POST", "/v1/admin/integrations", admin, map[string]any{
		"source": oaSource, "name": "Chaos OA", "callback_url": oa.srv.URL + "/callback"}, &out); err != nil {
		return fmt.Errorf("create the OA integration: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(out.Secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("the integration's secret: %w", err)
	}
	oa.key = key
	return nil
}

// sendTask sends the event of task n of flow (expenseFlow or remindFlow) for approver
// employeeNo until mportal accepts it (202, or 200 duplicate for a redelivery), re-signing each
// attempt with its time, as an OA redelivers. It returns the task's creation time as sent.
func (oa *fakeOA) sendTask(ctx context.Context, cl *client, n int, employeeNo string, flow oaFlow) time.Time {
	now := time.Now().UTC().Truncate(time.Second) // as RFC 3339 carries it
	version := now.UnixMilli()
	task := flow.prefix + "TASK-" + strconv.Itoa(n)
	body, _ := json.Marshal(map[string]any{
		"type": "approval.task.created", "timestamp": now.Format(time.RFC3339),
		"data": map[string]any{
			"instance": map[string]any{"id": flow.prefix + "INST-" + strconv.Itoa(n), "flow_code": flow.code, "flow_name": flow.name,
				"title": "Chaos " + flow.name + " " + strconv.Itoa(n), "applicant": map[string]any{"employee_no": "C0000", "name": "Ops", "department": department},
				"status": "PENDING", "version": version},
			"task": map[string]any{"id": task, "node_id": "manager", "node_name": "Manager", "node_mode": "OR",
				"approver_employee_no": employeeNo, "status": "PENDING", "created_at": now.Format(time.RFC3339),
				"due_at":         now.Add(48 * time.Hour).Format(time.RFC3339),
				"actions":        []map[string]any{{"action": "approve", "reason_required": false}, {"action": "reject", "reason_required": true}},
				"action_context": "chaos-" + flow.prefix + strconv.Itoa(n), "version": version},
		},
	})
	id := "msg_chaos_" + flow.prefix + strconv.Itoa(n)
	for ctx.Err() == nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		status, _, _, err := cl.send(ctx, "POST", "/v1/integrations/"+oaSource+"/events", "", map[string]string{
			"Content-Type": "application/json", "webhook-id": id, "webhook-timestamp": ts,
			"webhook-signature": oa.sign(id, ts, body)}, body)
		if err == nil {
			oa.mu.Lock()
			oa.tasks = append(oa.tasks, oaSource+":"+task)
			oa.mu.Unlock()
			return now
		}
		if refused(status) {
			say("OA event %s refused: %v", id, err)
			return time.Time{}
		}
		sleep(ctx, 300*time.Millisecond)
	}
	return time.Time{}
}

// oaFlow is one of the fake OA's approval flows; prefix keeps their task ids apart.
type oaFlow struct{ code, name, prefix string }

// expenseFlow's tasks are decided at once by the racing devices; remindFlow has a reminder
// policy (remind.go) and its tasks are left pending long enough for reminders to fall due.
var (
	expenseFlow = oaFlow{code: "expense", name: "Expense claim"}
	remindFlow  = oaFlow{code: "chaos-remind", name: "Leave request", prefix: "R"}
)

// deciders collects the decisions the devices saw.
type deciders struct {
	mu   sync.Mutex
	seen []chaos.Decision
}

// decidePending has device d decide each of its user's pending tasks: device "a" approves,
// device "b" rejects, so the two race with different decisions. Each decision is retried with
// its idempotency key until it is answered 200 or 409, even when loadCtx ends meanwhile (a
// decision whose answer the device never saw is one the checker cannot judge).
func (ds *deciders) decidePending(ctx, loadCtx context.Context, cl *client, d *device) {
	var list struct {
		Items []struct {
			ID        string    `json:"id"`
			FlowCode  string    `json:"flow_code"`
			CreatedAt time.Time `json:"created_at"`
		} `json:"items"`
	}
	if _, err := cl.do(loadCtx, "GET", "/v1/approvals?status=pending", d.token, nil, &list); err != nil {
		return
	}
	action, reason := "approve", ""
	if strings.HasSuffix(d.id, "-b") {
		action, reason = "reject", "rejected by the fault rig"
	}
	for _, t := range list.Items {
		if t.FlowCode == remindFlow.code && !remindDecideNow(t.ID, t.CreatedAt) {
			continue
		}
		body, _ := json.Marshal(map[string]any{"action": action, "reason": reason, "idempotency_key": d.id + "/" + t.ID})
		for ctx.Err() == nil {
			status, _, data, err := cl.send(ctx, "POST", "/v1/approvals/"+t.ID+"/decision", d.token,
				map[string]string{"Content-Type": "application/json"}, body)
			var dec struct {
				Action    string    `json:"action"`
				DecidedAt time.Time `json:"decided_at"`
				Data      struct {
					Decision *struct {
						Action    string    `json:"action"`
						DecidedAt time.Time `json:"decided_at"`
					} `json:"decision"`
				} `json:"data"`
			}
			json.Unmarshal(data, &dec)
			if err == nil || status == http.StatusConflict {
				if status == http.StatusConflict && dec.Data.Decision != nil {
					dec.Action, dec.DecidedAt = dec.Data.Decision.Action, dec.Data.Decision.DecidedAt
				}
				if dec.Action != "" {
					ds.mu.Lock()
					ds.seen = append(ds.seen, chaos.Decision{Task: t.ID, Action: dec.Action, DecidedAt: dec.DecidedAt.UTC().Truncate(time.Second).Format(time.RFC3339)})
					ds.mu.Unlock()
				}
				break
			}
			if refused(status) {
				break
			}
			sleep(ctx, 300*time.Millisecond)
		}
	}
}

// approvalLoad has the fake OA send a task every 5 s to one of the users in turn while
// every device polls its pending tasks and decides them, until loadCtx ends.
func approvalLoad(ctx, loadCtx context.Context, cl *client, oa *fakeOA, devices []*device, ds *deciders, users int) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; loadCtx.Err() == nil; n++ {
			oa.sendTask(ctx, cl, n, "C"+strconv.Itoa(1000+1+(n-1)%users), expenseFlow)
			sleep(loadCtx, 5*time.Second)
		}
	}()
	for i, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 12))
			for loadCtx.Err() == nil {
				ds.decidePending(ctx, loadCtx, cl, d)
				sleep(loadCtx, time.Duration(3000+rng.IntN(3000))*time.Millisecond)
			}
		}()
	}
	wg.Wait()
}
