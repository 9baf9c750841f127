package announce

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
	datasync "github.com/mportal/mportal/sync"
)

// flakySync runs writes with increasing numbers, or fails them while fail is set.
type flakySync struct {
	mu   sync.Mutex
	seq  int64
	fail error
}

func (f *flakySync) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	f.mu.Lock()
	if f.fail != nil {
		defer f.mu.Unlock()
		return f.fail
	}
	f.seq++
	seq := f.seq
	f.mu.Unlock()
	_, err := fn(ctx, seq)
	return err
}

// A publication whose sync stamp was not written (the write failed, or the instance died after
// the publish claim) is stamped by the next PublishDue after the grace: devices that had synced
// before never pulled it, since nothing else published it again.
func TestPublishDueStampsAPublicationLeftUnstamped(t *testing.T) {
	db := testenv.Mongo(t)
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	sync := &flakySync{fail: errors.New("the sync sequence is unavailable")}
	s := &Service{DB: db, Push: &countingPusher{}, Members: staticMembers{}, Sync: sync, Now: func() time.Time { return now }}
	ctx := context.Background()
	_, err := s.Create(ctx, opsUser, Input{Title: ptr("Now"), Body: ptr("Today."), Audience: &Audience{All: true}})
	if err == nil {
		t.Fatal("Create succeeded with the sync write failing")
	}
	var a Announcement
	if err := db.Collection(announcementsColl).FindOne(ctx, bson.D{}).Decode(&a); err != nil {
		t.Fatal(err)
	}
	stamped := func() bool {
		n, err := db.Collection(syncColl).CountDocuments(ctx, bson.D{{Key: "_id", Value: a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if stamped() {
		t.Fatal("stamped although the write failed")
	}
	sync.mu.Lock()
	sync.fail = nil
	sync.mu.Unlock()
	if err := s.PublishDue(ctx); err != nil || stamped() {
		t.Fatalf("stamped within the grace (%v): the instance that published may still be at it", err)
	}
	now = now.Add(enqueueGrace + time.Second)
	if err := s.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if !stamped() {
		t.Fatal("PublishDue left the publication unstamped")
	}
	seq := sync.seq
	if err := s.PublishDue(ctx); err != nil || sync.seq != seq {
		t.Fatalf("stamped again once confirmed (%v): %d writes, then %d", err, seq, sync.seq)
	}
}
