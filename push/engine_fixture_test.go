package push_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// testClock is the shared settable test clock.
type testClock = testenv.Clock

// fixture is a small directory built through the real check-in path, an engine with a settable
// clock, and the fake FCM server behind the real SDK.
type fixture struct {
	ctx      context.Context
	db       *mongodb.DB
	clock    *testClock
	devices  *directory.Devices
	engine   *push.Engine
	inbox    *memInbox
	fake     *fcmfake.Server
	registry *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testenv.Mongo(t)
	fcm, fake := outboxFCM(t)
	f := &fixture{ctx: context.Background(), db: db, fake: fake, inbox: &memInbox{}, registry: prometheus.NewRegistry(),
		clock: testenv.NewClock(time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC))}
	f.devices = &directory.Devices{DB: db, Now: f.clock.Now}
	f.engine = newEngine(db, fcm, f.inbox)
	f.engine.Now = f.clock.Now
	f.engine.Recipients = &directory.Recipients{DB: db, Now: f.clock.Now}
	f.engine.Metrics = push.NewMetrics(f.registry)
	return f
}

// user creates an active user.
func (f *fixture) user(t *testing.T, id string) *auth.Principal {
	t.Helper()
	now := f.clock.Now()
	_, err := f.db.Collection("users").InsertOne(f.ctx, directory.User{ID: id, EmployeeNo: "E-" + id, Name: id,
		Roles: []auth.Role{auth.RoleEmployee}, Locale: "en", Timezone: "Asia/Shanghai", Status: directory.StatusActive,
		CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return &auth.Principal{UserID: id, Roles: []auth.Role{auth.RoleEmployee}}
}

// phone checks in a device with a push token, changed by edit.
func (f *fixture) phone(t *testing.T, p *auth.Principal, deviceID, token string, edit ...func(*directory.DeviceInput)) {
	t.Helper()
	in := directory.DeviceInput{Platform: "android", Model: "Pixel", OSVersion: "15", AppID: "com.example.portal",
		AppVersion: "1.0.0", BuildNumber: 1, Locale: "en", Timezone: "Asia/Shanghai", PushToken: token, PushEnabled: true}
	for _, e := range edit {
		e(&in)
	}
	if _, err := f.devices.CheckIn(f.ctx, p, deviceID, in); err != nil {
		t.Fatalf("check in %s/%s: %v", p.UserID, deviceID, err)
	}
}

// counter returns the value of a counter (summed over its labels) from the fixture's registry.
func (f *fixture) counter(t *testing.T, name string) float64 {
	t.Helper()
	families, err := f.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, fam := range families {
		if fam.GetName() == name {
			for _, m := range fam.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func toUsers(key string, c push.Category, users ...string) push.Notification {
	return push.Notification{Key: key, Category: c, Audience: push.Audience{UserIDs: users},
		Title: map[string]string{"en": "Title " + key}, Body: map[string]string{"en": "Body"}}
}
