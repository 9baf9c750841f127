package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// start is the fixture's clock reading: a fixed date, so no test depends on the day it runs.
var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type noRevoker struct{}

func (noRevoker) RevokeUser(context.Context, string) error { return nil }

// recordingPusher records the notifications enqueued, once per key as the push engine does.
type recordingPusher struct {
	mu   sync.Mutex
	seen map[string]bool
	list []push.Notification
}

func (r *recordingPusher) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if r.seen[n.Key] {
		return n.Key, false, nil
	}
	r.seen[n.Key] = true
	r.list = append(r.list, n)
	return n.Key, true, nil
}

// to returns the notifications sent to userID, visible or silent.
func (r *recordingPusher) to(userID string, silent bool) []push.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []push.Notification
	for _, n := range r.list {
		if len(n.Audience.UserIDs) == 1 && n.Audience.UserIDs[0] == userID && n.Silent == silent {
			out = append(out, n)
		}
	}
	return out
}

type fixture struct {
	ctx    context.Context
	clock  *testenv.Clock
	svc    *approval.Service
	sync   *datasync.Engine
	pusher *recordingPusher
	admin  *auth.Principal
	// users by employee number: E100 and E200 approve, E300 is another employee, E900 is ops.
	users map[string]*auth.Principal
	// source and secret of the "oa" integration.
	source, secret string
	dir            *directory.Users
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), clock: testenv.NewClock(start), pusher: &recordingPusher{},
		users: map[string]*auth.Principal{}}
	db := testenv.Mongo(t)
	dir := &directory.Users{DB: db, Argon: auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1},
		Sessions: noRevoker{}, Now: f.clock.Now}
	if err := dir.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.admin = &auth.Principal{UserID: "admin", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	for no, roles := range map[string][]auth.Role{"E100": {auth.RoleApprover}, "E200": {auth.RoleApprover},
		"E300": nil, "E900": {auth.RoleOps}, "E901": {auth.RoleAdmin}} {
		u, _, err := dir.Create(f.ctx, f.admin, directory.CreateUser{EmployeeNo: no, Name: "User " + no,
			Roles: append([]auth.Role{auth.RoleEmployee}, roles...)})
		if err != nil {
			t.Fatal(err)
		}
		f.users[no] = &auth.Principal{UserID: u.ID, Roles: u.Roles, DeviceID: "dev-" + no}
	}
	f.dir = dir
	f.sync = &datasync.Engine{DB: db, Now: f.clock.Now}
	// One process writes the tasks: the list may come from memory, as on the embedded database
	// (TestListsOfReplicasSharingADatabase lists from the database).
	f.svc = &approval.Service{DB: db, Directory: dir, Push: f.pusher, Sync: f.sync, Now: f.clock.Now, ListInMemory: true}
	f.sync.Register(f.svc.SyncTable())
	f.sync.Register(f.svc.DecisionsSyncTable())
	if err := f.sync.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	created, err := f.svc.CreateIntegration(f.ctx, f.admin, approval.NewIntegration{Source: "oa", Name: "OA",
		CallbackURL: "http://127.0.0.1:1/callback"})
	if err != nil {
		t.Fatal(err)
	}
	f.source, f.secret = created.Integration.ID, created.Secret
	return f
}

// fakeOA signs events as an OA system would (Standard Webhooks).
type fakeOA struct {
	f      *fixture
	secret string
	n      int
}

func (f *fixture) oa() *fakeOA { return &fakeOA{f: f, secret: f.secret} }

// headers signs body as message id at the fixture's clock with the given secrets.
func signed(id string, ts time.Time, body []byte, secrets ...string) approval.Headers {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = approval.Sign(s, id, ts, body)
	}
	return approval.Headers{ID: id, Timestamp: strconv.FormatInt(ts.Unix(), 10), Signature: strings.Join(sigs, " ")}
}

// send signs and delivers an event with a fresh webhook-id.
func (o *fakeOA) send(ev any) (*approval.IngestResult, error) {
	o.n++
	return o.sendAs(fmt.Sprintf("msg_%d_%d", time.Now().UnixNano(), o.n), ev)
}

// sendAs delivers an event as message id and, once it is accepted, runs the event worker and
// returns what processing made of it (applied or stale).
func (o *fakeOA) sendAs(id string, ev any) (*approval.IngestResult, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	res, err := o.f.svc.Ingest(o.f.ctx, o.f.source, signed(id, o.f.clock.Now(), body, o.secret), body)
	if err != nil || res.Result != approval.ResultAccepted {
		return res, err
	}
	return o.f.processed(id)
}

// processed runs the event worker and returns the result of the event accepted as id.
func (f *fixture) processed(id string) (*approval.IngestResult, error) {
	if _, err := f.svc.ProcessEvents(f.ctx); err != nil {
		return nil, err
	}
	st, err := f.svc.EventStatus(f.ctx, f.source, id)
	if err != nil {
		return nil, err
	}
	return &approval.IngestResult{EventID: id, Result: st.Result}, nil
}

func (o *fakeOA) mustSend(t *testing.T, ev any) string {
	t.Helper()
	res, err := o.send(ev)
	if err != nil {
		t.Fatalf("send event: %v", err)
	}
	return res.Result
}

// event builders: a map per event, so tests can break any field.
type obj = map[string]any

func instance(id string, version int64, status string) obj {
	return obj{"id": id, "flow_code": "expense", "flow_name": "Expense claim", "title": "Taxi receipts " + id,
		"applicant":   obj{"employee_no": "E300", "name": "Applicant", "department": "Sales"},
		"summary":     []obj{{"label": "Amount", "value": "¥1,200"}, {"label": "Purpose", "value": "client visit"}},
		"attachments": []obj{{"name": "receipt.pdf", "url": "https://oa.example.com/files/1"}},
		"deep_link":   "https://oa.example.com/m/inst/" + id, "status": status, "version": version}
}

func task(id, approver string, version int64, status string) obj {
	return obj{"id": id, "node_id": "n1", "node_name": "Manager review", "node_mode": "OR",
		"approver_employee_no": approver, "status": status, "created_at": start.Format(time.RFC3339),
		"due_at":         start.Add(48 * time.Hour).Format(time.RFC3339),
		"actions":        []obj{{"action": "approve", "reason_required": false}, {"action": "reject", "reason_required": true}},
		"action_context": "ctx-" + id, "version": version}
}

func taskEvent(typ string, inst, tk obj) obj {
	return obj{"type": typ, "timestamp": start.Format(time.RFC3339), "data": obj{"instance": inst, "task": tk}}
}

func instanceEvent(inst obj) obj {
	return obj{"type": approval.EventInstanceUpdated, "timestamp": start.Format(time.RFC3339), "data": obj{"instance": inst}}
}

// newTask sends a created event for task tid of instance iid, assigned to approver.
func (f *fixture) newTask(t *testing.T, iid, tid, approver string) string {
	t.Helper()
	f.oa().mustSend(t, taskEvent(approval.EventTaskCreated, instance(iid, 1, "PENDING"), task(tid, approver, 1, "PENDING")))
	return approval.Key(f.source, tid)
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || (field != "*" && e.Field != field) {
		t.Fatalf("error = %v, want code %q field %q", err, code, field)
	}
	return e
}

// pull runs a sync pull of the approvals table for p.
func (f *fixture) pull(t *testing.T, p *auth.Principal, since int64) (live []approval.SyncRecord, deleted []string, ts int64) {
	t.Helper()
	var buf bytes.Buffer
	if err := f.sync.Pull(f.ctx, p, since, &buf); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Changes map[string]struct {
			Updated []approval.SyncRecord
			Deleted []string
		}
		Timestamp int64
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	c := r.Changes[approval.SyncTableName]
	return c.Updated, c.Deleted, r.Timestamp
}
