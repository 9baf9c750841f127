package feedback

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The cast of the tests.
var (
	alice = &auth.Principal{UserID: "alice", Roles: []auth.Role{auth.RoleEmployee}, Department: "Field Ops"}
	bob   = &auth.Principal{UserID: "bob", Roles: []auth.Role{auth.RoleEmployee}, Department: "Sales"}
	tess  = &auth.Principal{UserID: "tess", Roles: []auth.Role{auth.RoleEmployee, auth.RoleBetaTester}, Department: "IT"}
	olga  = &auth.Principal{UserID: "olga", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}, Department: "Ops"}
)

// staticUsers is a directory of fixed users.
type staticUsers map[string]*directory.User

func (u staticUsers) Me(_ context.Context, id string) (*directory.User, error) {
	if user, ok := u[id]; ok {
		return user, nil
	}
	return nil, apperr.New(apperr.NotFound, "user not found")
}

func (u staticUsers) Name(ctx context.Context, id string) (string, error) {
	user, err := u.Me(ctx, id)
	if err != nil {
		return "", err
	}
	return user.Name, nil
}

var users = staticUsers{
	"alice": {ID: "alice", Name: "Alice Field", Roles: []auth.Role{auth.RoleEmployee}, Status: directory.StatusActive},
	"bob":   {ID: "bob", Name: "Bob Sales", Roles: []auth.Role{auth.RoleEmployee}, Status: directory.StatusActive},
	"tess":  {ID: "tess", Name: "Tess Tester", Roles: []auth.Role{auth.RoleEmployee, auth.RoleBetaTester}, Status: directory.StatusActive},
	"olga":  {ID: "olga", Name: "Olga Ops", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}, Status: directory.StatusActive},
}

// recordingPusher records the notifications enqueued, once per key like the real engine.
type recordingPusher struct {
	mu   sync.Mutex
	sent map[string]push.Notification
	n    map[string]int
}

func (r *recordingPusher) Enqueue(_ context.Context, n push.Notification) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent, r.n = map[string]push.Notification{}, map[string]int{}
	}
	r.n[n.Key]++
	r.sent[n.Key] = n
	return n.Key, r.n[n.Key] == 1, nil
}

func (r *recordingPusher) get(key string) (push.Notification, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.sent[key]
	return n, ok
}

// fixture is a feedback service on a fresh embedded database, with a started sync engine.
type fixture struct {
	t      testing.TB
	svc    *Service
	engine *datasync.Engine
	pusher *recordingPusher
	clock  *testenv.Clock
}

func newFixture(t testing.TB, store media.Store) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.Mongo(t), store)
}

// newFixtureOn is newFixture on db.
func newFixtureOn(t testing.TB, db *mongodb.DB, store media.Store) *fixture {
	t.Helper()
	// One clock for the engine and the service, on the same calendar as the records' clientTime
	// (a fixed date mixed with the wall clock breaks on some day; see testenv.Clock).
	clock := testenv.NewClock(serverTime)
	engine := &datasync.Engine{DB: db, Now: clock.Now}
	f := &fixture{t: t, engine: engine, pusher: &recordingPusher{}, clock: clock}
	f.svc = &Service{DB: db, Sync: engine, Users: users, Push: f.pusher, Store: store, Grants: &AccessGrants{Sync: engine},
		Now: clock.Now}
	f.svc.Register()
	ctx := context.Background()
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// changes is one table's part of a push.
type changes struct {
	Created []any    `json:"created"`
	Updated []any    `json:"updated"`
	Deleted []string `json:"deleted"`
}

// push pushes the tables' changes as p and returns the engine's answer.
func (f *fixture) push(p *auth.Principal, tables map[string]changes) *datasync.PushResult {
	f.t.Helper()
	payload := map[string]changes{}
	for name, c := range tables { // WatermelonDB always sends all three arrays
		if c.Created == nil {
			c.Created = []any{}
		}
		if c.Updated == nil {
			c.Updated = []any{}
		}
		if c.Deleted == nil {
			c.Deleted = []string{}
		}
		payload[name] = c
	}
	body, err := json.Marshal(map[string]any{"changes": payload})
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.engine.Push(context.Background(), p, 0, body)
	if err != nil {
		f.t.Fatalf("push: %v", err)
	}
	return res
}

// pulled is a pull response.
type pulled struct {
	Changes map[string]struct {
		Created []map[string]any `json:"created"`
		Updated []map[string]any `json:"updated"`
		Deleted []string         `json:"deleted"`
	} `json:"changes"`
	Timestamp  int64 `json:"timestamp"`
	FullResync bool  `json:"full_resync"`
}

func (f *fixture) pull(p *auth.Principal, since int64) pulled {
	f.t.Helper()
	var buf bytes.Buffer
	if err := f.engine.Pull(context.Background(), p, since, &buf); err != nil {
		f.t.Fatalf("pull: %v", err)
	}
	var out pulled
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		f.t.Fatalf("decode pull %s: %v", buf.String(), err)
	}
	if out.Timestamp < 1 {
		f.t.Fatalf("pull answered timestamp %d, want a positive one", out.Timestamp)
	}
	for name, ch := range out.Changes {
		if len(ch.Created) != 0 {
			f.t.Fatalf("pull sent %d records of %s as created, want every live record in updated", len(ch.Created), name)
		}
	}
	return out
}

// device is an app's local database: it applies pulls the way WatermelonDB does.
type device struct {
	f       *fixture
	p       *auth.Principal
	cursor  int64
	records map[string]map[string]map[string]any // table -> id -> record
}

func (f *fixture) device(p *auth.Principal) *device {
	return &device{f: f, p: p, records: map[string]map[string]map[string]any{}}
}

func (d *device) sync() {
	d.f.t.Helper()
	res := d.f.pull(d.p, d.cursor)
	for table, ch := range res.Changes {
		if d.records[table] == nil {
			d.records[table] = map[string]map[string]any{}
		}
		for _, r := range append(ch.Created, ch.Updated...) {
			d.records[table][r["id"].(string)] = r
		}
		for _, id := range ch.Deleted {
			delete(d.records[table], id)
		}
	}
	d.cursor = res.Timestamp
}

func (d *device) get(table, id string) map[string]any { return d.records[table][id] }

// serverTime is where the fixture's clock starts; clientTime is a phone's clock an hour earlier,
// when the records were written offline.
var (
	serverTime = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)
	clientTime = serverTime.Add(-time.Hour).UnixMilli()
)

// newRecord is a feedback record as the app creates it.
func newRecord(id, text string) map[string]any {
	return map[string]any{
		"id": id, "category": "bug", "text": text, "latitude": 31.23, "longitude": 121.47, "accuracy_m": 12.5,
		"app_id": "com.example.portal", "build": 230, "version": "2.3.0", "channel": "beta", "platform": "android",
		"device_model": "Pixel 8", "os_version": "15", "created_at": clientTime, "share_with_testers": false,
		"status": "new", "_status": "created", "_changed": "",
	}
}

func with(r map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// doc reads the stored feedback document id.
func (f *fixture) doc(id string) *feedbackDoc {
	f.t.Helper()
	var d feedbackDoc
	if err := f.svc.findByID(context.Background(), feedbackColl, id, "feedback", &d); err != nil {
		f.t.Fatalf("feedback %s: %v", id, err)
	}
	return &d
}

func (f *fixture) count(coll string) int64 {
	f.t.Helper()
	n, err := f.svc.coll(coll).CountDocuments(context.Background(), map[string]any{})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func wantRejected(t testing.TB, res *datasync.PushResult, id string, code apperr.Code) {
	t.Helper()
	for _, r := range res.Rejected {
		if r.ID == id {
			if r.Code != code {
				t.Fatalf("%s rejected with %s (%s), want %s", id, r.Code, r.Detail, code)
			}
			return
		}
	}
	t.Fatalf("%s was not rejected: %+v", id, res)
}

func wantAccepted(t testing.TB, res *datasync.PushResult, n int) {
	t.Helper()
	if res.Accepted != n || len(res.Rejected) != 0 {
		t.Fatalf("accepted %d, rejected %+v; want %d accepted", res.Accepted, res.Rejected, n)
	}
}

func ptr[T any](v T) *T { return &v }

func ids(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}
