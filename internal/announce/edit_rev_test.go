package announce

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

// An edit is written only over the revision it read: on MongoDB, where DB.Lock spans one
// process, an edit on another instance that read before this one's write would otherwise
// overwrite every field with its stale copy.
func TestAnEditIsWrittenOverTheRevisionItRead(t *testing.T) {
	db := testenv.Mongo(t)
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	s := &Service{DB: db, Push: &countingPusher{}, Members: staticMembers{}, Now: func() time.Time { return now }}
	ctx := context.Background()
	a, err := s.Create(ctx, opsUser, Input{Title: ptr("First"), Body: ptr("Body."), Audience: &Audience{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() Announcement {
		t.Helper()
		var got Announcement
		if err := db.Collection(announcementsColl).FindOne(ctx, bson.D{{Key: "_id", Value: a.ID}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	title := func(v string) bson.D { return bson.D{{Key: "title", Value: v}} }

	// An announcement stored before revisions has none.
	if _, err := db.Collection(announcementsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "rev", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.saveEdit(ctx, a.ID, "", title("Second"), nil); err != nil {
		t.Fatalf("the first edit of an announcement without a revision: %v", err)
	}
	if err := s.saveEdit(ctx, a.ID, "", title("Stale"), nil); err != errChanged {
		t.Fatalf("an edit that read before the first: %v, want errChanged", err)
	}
	got := stored()
	if got.Title != "Second" || got.Rev == "" {
		t.Fatalf("title %q rev %q, want the first edit's", got.Title, got.Rev)
	}
	if err := s.saveEdit(ctx, a.ID, got.Rev, title("Third"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.saveEdit(ctx, a.ID, got.Rev, title("Stale again"), nil); err != errChanged {
		t.Fatalf("a stale edit: %v, want errChanged", err)
	}
	// Update reads again and applies its edit on the current revision.
	pinned := true
	if _, err := s.Update(ctx, opsUser, a.ID, Input{Pinned: &pinned}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Title != "Third" || !got.Pinned {
		t.Fatalf("title %q pinned %v, want both edits", got.Title, got.Pinned)
	}
}
