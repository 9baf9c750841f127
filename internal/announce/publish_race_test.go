package announce

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

// A publisher acts on an announcement it read before its claim; a withdrawal or an edit (by
// another instance, or in between) may have landed since. The claim's winner decides on what it
// reads after the claim. Before, a withdrawal between the publisher's check and its claim was
// pushed anyway, a postponement at the due second was published, and an edit's new title lost
// to the old one in the push.
func TestPublishDecidesOnWhatItReadsAfterTheClaim(t *testing.T) {
	db := testenv.Mongo(t)
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	pusher := &countingPusher{}
	s := &Service{DB: db, Push: pusher, Members: staticMembers{}, Now: func() time.Time { return now }}
	ctx := context.Background()
	schedule := func(title string) *Announcement {
		t.Helper()
		a, err := s.Create(ctx, opsUser, Input{Title: ptr(title), Body: ptr("Body."), Audience: &Audience{All: true},
			PublishAt: Optional[time.Time]{Set: true, Value: ptr(now.Add(time.Hour))}})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// stale is a as a publisher read it, due, before what the test does next.
	stale := func(a *Announcement) *Announcement {
		c := *a
		c.PublishAt = now.Add(-time.Second)
		return &c
	}
	status := func(id string) string {
		t.Helper()
		a, err := s.Get(ctx, opsUser, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Status
	}
	setPublishAt := func(id string, at time.Time) {
		t.Helper()
		if _, err := db.Collection(announcementsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "publish_at", Value: at}}}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("withdrawn meanwhile: no push", func(t *testing.T) {
		a := schedule("Withdrawn")
		setPublishAt(a.ID, now.Add(-time.Second))
		if _, err := s.Withdraw(ctx, opsUser, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.publish(ctx, stale(a)); err != nil {
			t.Fatal(err)
		}
		if n := pusher.count("announcement:" + a.ID + ":publish"); n != 0 {
			t.Fatalf("a withdrawn announcement was pushed %d times", n)
		}
		if st := status(a.ID); st != StatusWithdrawn {
			t.Fatalf("status %s, want withdrawn", st)
		}
	})
	t.Run("postponed meanwhile: the claim is given back", func(t *testing.T) {
		a := schedule("Postponed")
		if err := s.publish(ctx, stale(a)); err != nil {
			t.Fatal(err)
		}
		if n := pusher.count("announcement:" + a.ID + ":publish"); n != 0 {
			t.Fatalf("a postponed announcement was pushed %d times", n)
		}
		if st := status(a.ID); st != StatusScheduled {
			t.Fatalf("status %s, want scheduled", st)
		}
		now = now.Add(time.Hour)
		defer func() { now = now.Add(-time.Hour) }()
		if err := s.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		if n := pusher.count("announcement:" + a.ID + ":publish"); n != 1 {
			t.Fatalf("pushed %d times at its new time, want once", n)
		}
	})
	t.Run("edited meanwhile: the push carries the edit", func(t *testing.T) {
		a := schedule("Old title")
		old := stale(a)
		setPublishAt(a.ID, now.Add(-time.Second))
		if _, err := db.Collection(announcementsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: "New title"}}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.publish(ctx, old); err != nil {
			t.Fatal(err)
		}
		title := pusher.publishedTitle(t, a.ID)
		if title != "New title" {
			t.Fatalf("the push says %q, want the edited title", title)
		}
	})
}
