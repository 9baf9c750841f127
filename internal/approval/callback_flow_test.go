package approval

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// TestDecisionsReachTheOAOnceThroughTheService runs the whole loop on real components: an admin
// creates the integration, the OA sends a signed task, two devices of the approver decide at
// once (approve and reject), and two callback engines deliver. The OA, checking signatures with
// the secret it was given, receives exactly one decision for the task: the winner.
func TestDecisionsReachTheOAOnceThroughTheService(t *testing.T) {
	db := testenv.Mongo(t)
	clock := testenv.NewClock(fixtureStart)
	svc := &Service{DB: db, Directory: employees{"M1": "u-M1"}, Push: &sentNotifications{}, Now: clock.Now}
	if err := svc.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	oa := newFakeOA(t)
	created, err := svc.CreateIntegration(t.Context(), adminPrincipal, NewIntegration{Source: "feishu", Name: "Feishu", CallbackURL: oa.url()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(created.Secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	oa.secrets = [][]byte{key}

	const tasks = 5
	for i := range tasks {
		body := fmt.Sprintf(`{"type":"approval.task.created","timestamp":%q,"data":{`+
			`"instance":{"id":"I%d","flow_code":"EXP","flow_name":"Expenses","title":"Trip %d","applicant":{"employee_no":"A1","name":"Ann","department":"Sales"},`+
			`"summary":[],"attachments":[],"deep_link":"","status":"PENDING","version":1},`+
			`"task":{"id":"T%d","node_id":"mgr","node_name":"Manager","node_mode":"OR","approver_employee_no":"M1","status":"PENDING",`+
			`"created_at":%q,"due_at":null,"actions":[{"action":"approve","reason_required":false},{"action":"reject","reason_required":false}],`+
			`"action_context":"ctx-%d","version":1}}}`, fixtureStart.Format(time.RFC3339), i, i, i, fixtureStart.Format(time.RFC3339), i)
		id := fmt.Sprintf("evt-%d", i)
		h := Headers{ID: id, Timestamp: fmt.Sprint(fixtureStart.Unix()), Signature: Sign(created.Secret, id, fixtureStart, []byte(body))}
		if _, err := svc.Ingest(t.Context(), "feishu", h, []byte(body)); err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}
	if n, err := svc.ProcessEvents(t.Context()); err != nil || n != tasks {
		t.Fatalf("process events: %d, %v", n, err)
	}
	phone := &auth.Principal{UserID: "u-M1", Roles: []auth.Role{auth.RoleEmployee, auth.RoleApprover}, DeviceID: "phone"}
	tablet := &auth.Principal{UserID: "u-M1", Roles: []auth.Role{auth.RoleEmployee, auth.RoleApprover}, DeviceID: "tablet"}
	winners := make([]string, tasks)
	var wg sync.WaitGroup
	for i := range tasks {
		for j, dev := range []struct {
			p      *auth.Principal
			action string
		}{{phone, ActionApprove}, {tablet, ActionReject}} {
			wg.Go(func() {
				d, err := svc.Decide(t.Context(), dev.p, Key("feishu", fmt.Sprintf("T%d", i)),
					DecisionInput{Action: dev.action, IdempotencyKey: fmt.Sprintf("k%d-%d", i, j)})
				if err == nil {
					winners[i] = d.Action
				}
			})
		}
	}
	wg.Wait()
	engines := []*Callbacks{
		{DB: db, Now: clock.Now, Holder: "replica-1", Jitter: noJitter, Client: &http.Client{Timeout: 5 * time.Second}},
		{DB: db, Now: clock.Now, Holder: "replica-2", Jitter: noJitter, Client: &http.Client{Timeout: 5 * time.Second}},
	}
	for _, e := range engines {
		wg.Go(func() {
			if _, err := e.DeliverDue(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	received, applied, bad := oa.counts()
	if applied != tasks || bad != 0 {
		t.Fatalf("the OA applied %d of %d decisions (bad signatures %d, received %v)", applied, tasks, bad, received)
	}
	for i := range tasks {
		id := webhookID(Key("feishu", fmt.Sprintf("T%d", i)))
		var got callbackPayload
		if err := json.Unmarshal(oa.appliedBody(id), &got); err != nil {
			t.Fatal(err)
		}
		if received[id] != 1 || got.Data.Action != winners[i] || got.Data.TaskID != fmt.Sprintf("T%d", i) ||
			got.Data.InstanceID != fmt.Sprintf("I%d", i) || got.Data.ActionContext != fmt.Sprintf("ctx-%d", i) || got.Data.EmployeeNo != "M1" {
			t.Errorf("task %d: sent %d times, %+v (winner %q)", i, received[id], got.Data, winners[i])
		}
	}
}
