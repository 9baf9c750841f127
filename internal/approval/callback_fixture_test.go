package approval

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// callbackFixture is a database with one integration whose callback URL is a fake OA, and
// engines delivering to it on a test clock.
type callbackFixture struct {
	t           testing.TB
	db          *mongodb.DB
	clock       *testenv.Clock
	oa          *fakeOA
	integration string
	n           int
}

var fixtureStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newCallbackFixture(t testing.TB) *callbackFixture {
	t.Helper()
	return newCallbackFixtureOn(t, testenv.Mongo(t))
}

// newCallbackFixtureOn is newCallbackFixture on db.
func newCallbackFixtureOn(t testing.TB, db *mongodb.DB) *callbackFixture {
	t.Helper()
	key1, key2 := []byte("callback-secret-one-0123456789ab"), []byte("callback-secret-two-0123456789ab")
	f := &callbackFixture{t: t, db: db, clock: testenv.NewClock(fixtureStart), oa: newFakeOA(t, key2),
		integration: "oa1"}
	f.seedIntegration(f.integration, f.oa.url(), key1, key2)
	if err := f.engine("setup").EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	return f
}

// engine is one replica's callback engine; the OA must answer within timeout.
func (f *callbackFixture) engine(holder string) *Callbacks {
	return &Callbacks{DB: f.db, Now: f.clock.Now, Holder: holder, Jitter: noJitter,
		Client: &http.Client{Timeout: 5 * time.Second}}
}

func (f *callbackFixture) seedIntegration(id, url string, keys ...[]byte) {
	f.t.Helper()
	in := Integration{ID: id, Name: "OA", CallbackURL: url, Enabled: true, CreatedAt: fixtureStart, UpdatedAt: fixtureStart}
	for i, k := range keys {
		in.Secrets = append(in.Secrets, Secret{ID: fmt.Sprintf("sec_%d", i), Key: "whsec_" + base64.StdEncoding.EncodeToString(k), CreatedAt: fixtureStart})
	}
	_, err := f.db.Collection(integrationsColl).InsertOne(f.t.Context(), in)
	if err != nil {
		f.t.Fatal(err)
	}
}

// decide records a decision made in mportal now, as the approver API does; it returns its id.
func (f *callbackFixture) decide(action string) string {
	f.t.Helper()
	f.n++
	taskID := fmt.Sprintf("task-%03d", f.n)
	id := Key(f.integration, taskID)
	now := f.clock.Now().UTC().Truncate(time.Millisecond)
	_, err := f.db.Collection(decisionsColl).InsertOne(f.t.Context(), Decision{ID: id, Source: f.integration,
		TaskID: taskID, InstanceID: "inst-1", FlowCode: "EXP", NodeID: "mgr", Action: action, ByUserID: "u100",
		ByEmployeeNo: "E100", Via: ViaMobile, TaskVersion: 7, ActionContext: "opaque-" + taskID, DecidedAt: now,
		TaskCreatedAt: now.Add(-time.Hour), Callback: Callback{State: CallbackPending, NextAt: now}})
	if err != nil {
		f.t.Fatal(err)
	}
	queueCallback(f.t.Context(), f.db, &Decision{ID: id, Source: f.integration, Callback: Callback{NextAt: now}})
	return id
}

func (f *callbackFixture) callback(decisionID string) Callback {
	f.t.Helper()
	var d Decision
	if err := f.db.Collection(decisionsColl).FindOne(f.t.Context(), bson.D{{Key: "_id", Value: decisionID}}).Decode(&d); err != nil {
		f.t.Fatal(err)
	}
	return d.Callback
}

func (f *callbackFixture) enabled() bool {
	f.t.Helper()
	var in Integration
	if err := f.db.Collection(integrationsColl).FindOne(f.t.Context(), bson.D{{Key: "_id", Value: f.integration}}).Decode(&in); err != nil {
		f.t.Fatal(err)
	}
	return in.Enabled
}

// pass runs one delivery pass of e and returns how many attempts it made.
func (f *callbackFixture) pass(e *Callbacks) int {
	f.t.Helper()
	n, err := e.DeliverDue(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *callbackFixture) log() []Delivery {
	f.t.Helper()
	ds, err := f.engine("reader").Deliveries(context.Background(), adminPrincipal, f.integration, MaxDeliveriesPage)
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}
