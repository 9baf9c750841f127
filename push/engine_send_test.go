package push_test

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

func TestInvalidTokensAreRemoved(t *testing.T) {
	f := newFixture(t)
	alice := f.user(t, "alice")
	f.phone(t, alice, "old-phone", "tok-unregistered")
	f.phone(t, alice, "tablet", "tok-malformed")
	f.phone(t, alice, "new-phone", "tok-good")
	f.fake.SetBehavior("tok-unregistered", fcmfake.Behavior{Fail: fcmfake.Unregistered})
	f.fake.SetBehavior("tok-malformed", fcmfake.Behavior{Fail: fcmfake.InvalidToken})
	run(t, f.engine)
	waitDone(t, f.engine, enqueue(t, f.engine, toUsers("fb-1", push.CategoryFeedbackReply, "alice")))

	list, err := f.devices.List(f.ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if want := d.DeviceID == "new-phone"; d.HasPushToken != want {
			t.Errorf("device %s has_push_token=%v, want %v", d.DeviceID, d.HasPushToken, want)
		}
	}
	for _, tok := range []string{"tok-unregistered", "tok-malformed"} {
		if _, _, err := f.devices.TokenOwner(f.ctx, tok); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("token %s still has an owner (err %v)", tok, err)
		}
	}
	if f.fake.Count("tok-good") != 1 {
		t.Errorf("the good token got %d messages", f.fake.Count("tok-good"))
	}
	if got := f.counter(t, "mportal_push_tokens_removed_total"); got != 2 {
		t.Errorf("tokens removed metric = %v, want 2", got)
	}
}

func TestQuotaErrorHonoursRetryAfter(t *testing.T) {
	f := newFixture(t)
	bob := f.user(t, "bob")
	f.phone(t, bob, "phone", "tok-quota")
	f.fake.SetBehavior("tok-quota", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 30 * time.Second, Times: 1})
	failedAt := f.clock.Now()
	run(t, f.engine)
	id := enqueue(t, f.engine, toUsers("fb-quota", push.CategoryFeedbackReply, "bob"))

	var retry struct {
		Attempt   int       `bson:"attempt"`
		NotBefore time.Time `bson:"not_before"`
	}
	eventually(t, "a retry batch is queued", func() (bool, error) {
		err := f.db.Collection("push_batches").FindOne(f.ctx, bson.D{{Key: "attempt", Value: 2}}).Decode(&retry)
		return err == nil, nil
	})
	if want := failedAt.Add(30 * time.Second); !retry.NotBefore.Equal(want) {
		t.Fatalf("retry not before %v, want %v (the Retry-After)", retry.NotBefore, want)
	}
	if f.fake.Attempts("tok-quota") != 1 || f.fake.Count("tok-quota") != 0 {
		t.Fatalf("attempts %d, delivered %d before the retry is due", f.fake.Attempts("tok-quota"), f.fake.Count("tok-quota"))
	}
	f.clock.Set(retry.NotBefore)
	waitDone(t, f.engine, id)
	if f.fake.Count("tok-quota") != 1 || f.fake.Attempts("tok-quota") != 2 {
		t.Fatalf("delivered %d in %d attempts, want 1 in 2", f.fake.Count("tok-quota"), f.fake.Attempts("tok-quota"))
	}
}

func TestUndeliverableMessagesAreDeadLettered(t *testing.T) {
	f := newFixture(t)
	// The back-offs are milliseconds of real time; the fixture's clock runs so that they pass
	// while the devices' last-seen dates stay on the same calendar as the engine's.
	f.clock.Run()
	f.engine.MaxAttempts = 3
	carol := f.user(t, "carol")
	f.phone(t, carol, "down", "tok-down")
	f.phone(t, carol, "bad", "tok-bad")
	f.phone(t, carol, "fine", "tok-fine")
	f.fake.SetBehavior("tok-down", fcmfake.Behavior{Fail: fcmfake.Unavailable})
	f.fake.SetBehavior("tok-bad", fcmfake.Behavior{Fail: fcmfake.InvalidArgument})
	run(t, f.engine)
	id := enqueue(t, f.engine, toUsers("fb-dead", push.CategoryFeedbackReply, "carol"))
	waitDone(t, f.engine, id)

	tests := []struct {
		name, device, token, reason string
		attempts                    int
	}{
		{"gives up on a transient error after the attempt limit", "carol/down", "tok-down", "retries exhausted: UNAVAILABLE", 3},
		{"gives up on a permanent error at once", "carol/bad", "tok-bad", "INVALID_ARGUMENT", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dead struct {
				Reason   string `bson:"reason"`
				Attempts int    `bson:"attempts"`
				UserID   string `bson:"user_id"`
			}
			err := f.db.Collection("push_dead").FindOne(f.ctx, bson.D{{Key: "_id", Value: id + "/" + tt.device}}).Decode(&dead)
			if err != nil {
				t.Fatal(err)
			}
			if dead.Reason != tt.reason || dead.Attempts != tt.attempts || dead.UserID != "carol" {
				t.Fatalf("dead letter %+v", dead)
			}
			if got := f.fake.Attempts(tt.token); got != tt.attempts {
				t.Fatalf("%d attempts at the fake, want %d", got, tt.attempts)
			}
		})
	}
	if f.fake.Count("tok-fine") != 1 {
		t.Fatalf("the working device got %d messages", f.fake.Count("tok-fine"))
	}
	if got := f.counter(t, "mportal_push_failed_total"); got != 4 {
		t.Fatalf("failed metric = %v, want 4 (three attempts and one permanent failure)", got)
	}
}

func TestEnqueueRejectsBadNotifications(t *testing.T) {
	f := newFixture(t)
	good := toUsers("k", push.CategoryTraining, "u")
	tests := []struct {
		name  string
		edit  func(n *push.Notification)
		field string
	}{
		{"rejects an empty key", func(n *push.Notification) { n.Key = "" }, "key"},
		{"rejects an overlong key", func(n *push.Notification) { n.Key = strings.Repeat("k", 201) }, "key"},
		{"rejects an unknown category", func(n *push.Notification) { n.Category = "gossip" }, "category"},
		{"rejects a missing title", func(n *push.Notification) { n.Title = nil }, "title"},
		{"rejects an empty body text", func(n *push.Notification) { n.Body = map[string]string{"en": ""} }, "body"},
		{"rejects a reserved data key", func(n *push.Notification) { n.Data = map[string]string{"deep_link": "x"} }, "data"},
		{"rejects oversized data", func(n *push.Notification) { n.Data = map[string]string{"x": strings.Repeat("y", 3000)} }, "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good
			tt.edit(&n)
			_, _, err := f.engine.Enqueue(f.ctx, n)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != tt.field {
				t.Fatalf("error %v, want invalid %s", err, tt.field)
			}
		})
	}
}

// A batch that waited follows its device to the token the device holds now: the app checked in
// with a refreshed FCM token meanwhile, which released the one the fan-out read. Before, the
// device was dropped as if its token had moved to someone else. A token that did move to
// another user's device is still never used.
func TestAWaitingBatchFollowsARefreshedToken(t *testing.T) {
	f := newFixture(t)
	bob, eve := f.user(t, "bob"), f.user(t, "eve")
	f.phone(t, bob, "phone", "tok-old")
	f.phone(t, bob, "tablet", "tok-shared")
	f.fake.SetBehavior("tok-old", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 30 * time.Second, Times: 1})
	f.fake.SetBehavior("tok-shared", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 30 * time.Second, Times: 1})
	fannedOut := f.clock.Now()
	run(t, f.engine)
	id := enqueue(t, f.engine, toUsers("fb-refresh", push.CategoryFeedbackReply, "bob"))
	eventually(t, "the retry batch is queued", func() (bool, error) {
		n, err := f.db.Collection("push_batches").CountDocuments(f.ctx, bson.D{{Key: "attempt", Value: 2}})
		return n == 1, err
	})
	f.phone(t, bob, "phone", "tok-new")         // the refreshed token
	f.phone(t, eve, "tablet", "tok-shared")     // eve signs in on bob's tablet: the token moves to her
	f.clock.Set(fannedOut.Add(2 * time.Minute)) // past the retry and the owner check's age
	waitDone(t, f.engine, id)
	if f.fake.Count("tok-new") != 1 || f.fake.Count("tok-old") != 0 {
		t.Fatalf("the new token got %d messages, the old one %d; want 1 and 0", f.fake.Count("tok-new"), f.fake.Count("tok-old"))
	}
	if f.fake.Count("tok-shared") != 0 {
		t.Fatal("bob's notification reached eve's device")
	}
}

// A push held back by a retry is dropped once a later push under its collapse key was enqueued
// for the user: an approval's visible push, retried after a 429, reached the phone after the
// silent push that withdrew it (the task was decided meanwhile), and stayed, since a collapse
// key only replaces what is not yet delivered.
func TestARetriedPushIsDroppedOnceSuperseded(t *testing.T) {
	f := newFixture(t)
	dan := f.user(t, "dan")
	f.phone(t, dan, "phone", "tok-dan")
	f.fake.SetBehavior("tok-dan", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 30 * time.Second, Times: 1})
	run(t, f.engine)
	show := toUsers("approval:t1:show", push.CategoryApproval, "dan")
	show.CollapseKey = "approval-t1"
	id := enqueue(t, f.engine, show)
	var retry struct {
		NotBefore time.Time `bson:"not_before"`
	}
	eventually(t, "the retry batch is queued", func() (bool, error) {
		err := f.db.Collection("push_batches").FindOne(f.ctx, bson.D{{Key: "attempt", Value: 2}}).Decode(&retry)
		return err == nil, nil
	})
	withdraw := push.Notification{Key: "approval:t1:withdraw", Category: push.CategoryApproval,
		Audience: push.Audience{UserIDs: []string{"dan"}}, CollapseKey: "approval-t1", Silent: true}
	waitDone(t, f.engine, enqueue(t, f.engine, withdraw))
	f.clock.Set(retry.NotBefore)
	waitDone(t, f.engine, id)
	if got := f.fake.Count("tok-dan"); got != 1 {
		t.Fatalf("the phone got %d messages, want only the withdrawal", got)
	}
}
