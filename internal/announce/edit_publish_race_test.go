package announce

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// An edit that read the announcement scheduled and is written after the publisher read it for
// the push: the push must carry the edit, or the edit must be refused as a conflict. Before, the
// edit was answered 2xx and shown to readers while the push had gone out with the old text.
//
// The publisher runs from the editor's clock, which the edit reads between its read and its
// write, and the edit waits for it (a while, when the fix makes it wait for the edit's lock).
func TestAnEditRacingThePublicationIsPushedOrRefused(t *testing.T) {
	t.Run("on MongoDB, two instances ordered by the rev", func(t *testing.T) {
		test := testenv.Mongo(t)
		// Without FerretDB's in-process lock (a no-op on MongoDB), only the rev orders the writes.
		db := &mongodb.DB{Client: test.Client, DB: test.DB}
		raceEditWithPublication(t, db, false)
	})
	t.Run("on the embedded FerretDB, one process ordered by its lock", func(t *testing.T) {
		raceEditWithPublication(t, testenv.Mongo(t), true)
	})
}

func raceEditWithPublication(t *testing.T, db *mongodb.DB, oneInstance bool) {
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	pusher := &countingPusher{}
	publisher := &Service{DB: db, Push: pusher, Members: staticMembers{}, Now: func() time.Time { return now }}
	var (
		mu        sync.Mutex
		armed     bool
		published = make(chan struct{})
	)
	editor := &Service{DB: db, Push: pusher, Members: staticMembers{}, Now: func() time.Time {
		mu.Lock()
		fire := armed
		armed = false
		mu.Unlock()
		if fire {
			go func() {
				defer close(published)
				if err := publisher.PublishDue(context.Background()); err != nil {
					t.Errorf("publish: %v", err)
				}
			}()
			select {
			case <-published:
			case <-time.After(300 * time.Millisecond):
			}
		}
		return now
	}}
	if oneInstance {
		publisher = editor
	}
	ctx := context.Background()
	a, err := editor.Create(ctx, opsUser, Input{Title: ptr("Old title"), Body: ptr("Body."), Audience: &Audience{All: true},
		PublishAt: Optional[time.Time]{Set: true, Value: ptr(now.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	mu.Lock()
	armed = true
	mu.Unlock()

	_, editErr := editor.Update(ctx, opsUser, a.ID, Input{Title: ptr("New title")})
	<-published
	pushed := pusher.publishedTitle(t, a.ID)
	var stored Announcement
	if err := db.Collection(announcementsColl).FindOne(ctx, bson.D{{Key: "_id", Value: a.ID}}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	t.Logf("edit: %v; readers see %q, the push said %q", editErr, stored.Title, pushed)
	switch {
	case editErr == nil && pushed != "New title":
		t.Fatalf("the edit was accepted and readers see %q, but the push said %q", stored.Title, pushed)
	case editErr != nil && !apperr.Is(editErr, apperr.Conflict):
		t.Fatalf("edit: %v, want success or conflict", editErr)
	case editErr != nil && (stored.Title != "Old title" || pushed != "Old title"):
		t.Fatalf("the edit was refused, yet readers see %q and the push said %q", stored.Title, pushed)
	}
}
