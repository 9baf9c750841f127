package push_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// Purge deletes a finished notification's records once the retention has passed since it
// finished, and keeps those of notifications finished later or not finished at all.
func TestPurgeForgetsFinishedNotificationsAfterTheRetention(t *testing.T) {
	f := newFixture(t)
	f.engine.Retention = 10 * 24 * time.Hour
	dan := f.user(t, "dan")
	f.phone(t, dan, "phone", "tok-dan")
	f.phone(t, dan, "broken", "tok-broken")
	f.fake.SetBehavior("tok-broken", fcmfake.Behavior{Fail: fcmfake.InvalidArgument}) // a dead letter each
	run(t, f.engine)
	send := func(key string) push.Notification {
		n := toUsers(key, push.CategoryApproval, "dan")
		n.CollapseKey = "collapse-" + key
		waitDone(t, f.engine, enqueue(t, f.engine, n))
		return n
	}
	scheduled := toUsers("scheduled", push.CategoryApproval, "dan") // enqueued first, finished never
	scheduled.NotBefore = f.clock.Now().Add(200 * 24 * time.Hour)
	enqueue(t, f.engine, scheduled)
	old := send("old")
	f.clock.Advance(5 * 24 * time.Hour)
	send("recent")

	f.clock.Advance(6 * 24 * time.Hour) // 11 days after "old" finished, 6 after "recent"
	n, err := f.engine.Purge(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d documents, want 3: the old notification, its collapse record and its dead letter", n)
	}
	has := func(coll, id string) bool {
		t.Helper()
		c, err := f.db.Collection(coll).CountDocuments(f.ctx, bson.D{{Key: "_id", Value: id}})
		if err != nil {
			t.Fatal(err)
		}
		return c == 1
	}
	for _, tt := range []struct {
		coll, id string
		kept     bool
	}{
		{"push_notifications", "old", false},
		{"push_collapse", "collapse-old\x00dan", false},
		{"push_dead", "old/dan/broken", false},
		{"push_notifications", "recent", true},
		{"push_collapse", "collapse-recent\x00dan", true},
		{"push_dead", "recent/dan/broken", true},
		{"push_notifications", "scheduled", true}, // not finished: kept whatever its age
	} {
		if got := has(tt.coll, tt.id); got != tt.kept {
			t.Errorf("%s %q kept: %v, want %v", tt.coll, tt.id, got, tt.kept)
		}
	}

	// The key no longer deduplicates: enqueued again, the notification is a new one.
	if _, created, err := f.engine.Enqueue(f.ctx, old); err != nil || !created {
		t.Fatalf("enqueue the purged key again: created %v, err %v", created, err)
	}
}
