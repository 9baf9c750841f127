package directory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

// BenchmarkNarrowChannel is what ops taking a department off alpha costs on the embedded
// FerretDB: a department of 2,000 users with a phone each on alpha, among 10,000 devices in all,
// every phone moved back to stable (one scan of the devices, one of the users, two updates of
// 1,000, each a scan).
// Each iteration first puts the phones back on alpha, untimed.
//
// It runs on an embedded FerretDB of its own with the _id expression index Main adds at start
// (embedded.EnsureIDIndexes; the shared test server has none, and every update of a document
// by _id, which FerretDB's updates of many documents are, would scan the table).
func BenchmarkNarrowChannel(b *testing.B) {
	ctx := context.Background()
	srv, err := embedded.Start(b.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	db, err := mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close(context.Background()) })
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const total, dept = 10000, 2000
	var users, devices []any
	for i := range total {
		id := fmt.Sprintf("u%05d", i)
		d, ch := "Sales", DefaultChannel
		if i < dept {
			d, ch = "IT", "alpha"
		}
		users = append(users, User{ID: id, EmployeeNo: "E" + id, Name: id, Department: d, Status: StatusActive, CreatedAt: now, UpdatedAt: now})
		devices = append(devices, Device{Key: id + "/phone", UserID: id, DeviceID: "phone", Platform: PlatformAndroid,
			AppID: "com.example.portal", Channel: ch, PushToken: "tok-" + id, PushEnabled: true, CreatedAt: now, LastSeenAt: now})
	}
	if _, err := db.Collection(usersCollection).InsertMany(ctx, users); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Collection(devicesCollection).InsertMany(ctx, devices); err != nil {
		b.Fatal(err)
	}
	if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
		b.Fatal(err)
	}
	s := &Devices{DB: db}
	nobody := func(*auth.Principal) bool { return false }
	for b.Loop() {
		b.StopTimer()
		if _, err := db.Collection(devicesCollection).UpdateMany(ctx, bson.D{{Key: "user_id", Value: bson.D{{Key: "$lt", Value: fmt.Sprintf("u%05d", dept)}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "channel", Value: "alpha"}}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		moved, err := s.NarrowChannel(ctx, []string{"portal", "com.example.portal"}, "alpha", nobody)
		if err != nil || moved != dept {
			b.Fatalf("moved %d, %v", moved, err)
		}
	}
}

// BenchmarkReassessOneUser is what an admin's department change costs a user with a phone on
// alpha, among 10,000 users with a device each, on the embedded FerretDB with the recipient view
// (as Main runs it): the view names the user's device off stable, which is read, with the user,
// by _id and moved by _id. Each iteration first checks the phone in on alpha, untimed.
func BenchmarkReassessOneUser(b *testing.B) {
	ctx := context.Background()
	srv, err := embedded.Start(b.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	db, err := mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close(context.Background()) })
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var users, devices []any
	for i := range 10000 {
		id := fmt.Sprintf("u%05d", i)
		users = append(users, User{ID: id, EmployeeNo: "E" + id, Name: id, Department: "IT", Status: StatusActive, CreatedAt: now, UpdatedAt: now})
		devices = append(devices, Device{Key: id + "/phone", UserID: id, DeviceID: "phone", Platform: PlatformAndroid,
			AppID: "com.example.portal", Channel: DefaultChannel, PushToken: "tok-" + id, PushEnabled: true, CreatedAt: now, LastSeenAt: now})
	}
	if _, err := db.Collection(usersCollection).InsertMany(ctx, users); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Collection(devicesCollection).InsertMany(ctx, devices); err != nil {
		b.Fatal(err)
	}
	if err := srv.EnsureIDIndexes(ctx, "mportal"); err != nil {
		b.Fatal(err)
	}
	rule := alphaForIT()
	s := &Devices{DB: db, View: &RecipientView{DB: db}, Channels: rule, Now: func() time.Time { return now }}
	if err := s.View.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	p := &auth.Principal{UserID: "u05000", Department: "IT"}
	in := DeviceInput{Platform: PlatformAndroid, Model: "Pixel 8", OSVersion: "15", AppID: "com.example.portal",
		AppVersion: "2.3.0", BuildNumber: 230, Channel: "alpha"}
	for b.Loop() {
		b.StopTimer()
		rule.setDepts("alpha", "IT")
		if d, err := s.CheckIn(ctx, p, "phone", in); err != nil || d.Channel != "alpha" {
			b.Fatalf("%+v, %v", d, err)
		}
		rule.setDepts("alpha")
		b.StartTimer()
		if moved, err := s.Reassess(ctx, p.UserID); err != nil || moved != 1 {
			b.Fatalf("moved %d, %v", moved, err)
		}
	}
}
