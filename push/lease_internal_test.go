package push

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
)

// noRecipients is a RecipientSource with nobody in it: these tests never get past the lease.
type noRecipients struct{}

func (noRecipients) Stream(context.Context, Audience, string, func([]Recipient, string) error) error {
	return nil
}
func (noRecipients) RemoveToken(context.Context, string) error { return nil }

// TestHeldWorkIsNotScannedInALoop: an engine offered a fan-out whose lease another engine holds
// leaves it to the next tick. It used to ask for a new scan after every task, held or not, so
// that it scanned and tried the held lease in a loop as fast as the database answered.
func TestHeldWorkIsNotScannedInALoop(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	e := &Engine{DB: db, Recipients: noRecipients{}, PollInterval: time.Second, LeaseTTL: time.Minute,
		Logger: slog.New(slog.DiscardHandler)}
	id, _, err := e.Enqueue(ctx, Notification{Key: "held", Category: CategoryAnnouncement,
		Audience: Audience{All: true}, Title: map[string]string{"en": "t"}, Body: map[string]string{"en": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(leasesColl).InsertOne(ctx, leaseDoc{ID: leaseID("fanout:"+id, 1), Holder: "another engine",
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancel()
	if err := e.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	// One scan at the start and one per tick (2 ticks in 2.5 s); a loop makes hundreds.
	if n := e.scans.Load(); n > 5 {
		t.Errorf("%d scans in 2.5 s with a poll interval of 1 s: the held fan-out was retried in a loop", n)
	}
	var a activeDoc
	if err := db.Collection(activeColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil || a.State != stateFanout {
		t.Errorf("the held fan-out should still wait for its holder: %+v, %v", a, err)
	}
}

// TestAcquire: a live lease keeps others out; an expired one is taken over at the next epoch;
// a finished thing's deleted leases are claimed again from epoch 1.
func TestAcquire(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	e := &Engine{DB: db, Recipients: noRecipients{}, LeaseTTL: time.Minute, Logger: slog.New(slog.DiscardHandler)}
	e.init()
	leases := db.Collection(leasesColl)
	put := func(id string, expires time.Time) {
		t.Helper()
		if _, err := leases.InsertOne(ctx, leaseDoc{ID: id, Holder: "other", ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
	}
	put(leaseID("live", 1), time.Now().Add(time.Hour))
	if l, err := e.acquire(ctx, "live"); l != nil || err != nil {
		t.Fatalf("acquire of a live lease held by another: %v, %v; want nil, nil", l, err)
	}
	put(leaseID("expired", 1), time.Now().Add(-time.Second))
	put(leaseID("expired", 2), time.Now().Add(-time.Second))
	l, err := e.acquire(ctx, "expired")
	if err != nil || l == nil || l.epoch != 3 {
		t.Fatalf("acquire after two expired holders: %+v, %v; want epoch 3", l, err)
	}
	if again, err := e.acquire(ctx, "expired"); again != nil || err != nil {
		t.Errorf("a second acquire while epoch 3 is held: %v, %v; want nil, nil", again, err)
	}
	l.finish()
	n, err := leases.CountDocuments(ctx, bson.D{})
	if err != nil || n != 1 { // only "live:1" is left
		t.Fatalf("after finish: %d lease documents, %v; want 1", n, err)
	}
	l, err = e.acquire(ctx, "expired")
	if err != nil || l == nil || l.epoch != 1 {
		t.Fatalf("acquire of a finished thing: %+v, %v; want epoch 1", l, err)
	}
	l.release()
}

// TestAClaimInsertThatFailsAmbiguouslyTakesBackItsClaims: an insert of claims that was applied
// but answered with an error without per-claim results (a lost connection, a write concern
// timeout) takes back its own claims, and only its own: the batch's rerun claims and sends to
// those devices. Before, the rerun found them all claimed and sent nothing.
func TestAClaimInsertThatFailsAmbiguouslyTakesBackItsClaims(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	e := &Engine{DB: db, Recipients: noRecipients{}, Logger: slog.New(slog.DiscardHandler)}
	e.init()
	devices := []batchDevice{{Key: "u1/d1"}, {Key: "u2/d2"}, {Key: "u3/d3"}}
	if _, err := e.sentColl("n1").InsertOne(ctx, bson.D{{Key: "_id", Value: "u3/d3"}, {Key: "by", Value: "another holder"}}); err != nil {
		t.Fatal(err)
	}
	e.claimsInserted = func(error) error { return errors.New("connection reset by peer") }
	if _, _, err := e.claim(ctx, "n1", 1, "b1/1.0", devices); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	e.claimsInserted = nil
	claimed, unclaimed, err := e.claim(ctx, "n1", 1, "b1/2.0", devices)
	if err != nil || len(claimed) != 2 || len(unclaimed) != 0 || claimed[0].Key != "u1/d1" || claimed[1].Key != "u2/d2" {
		t.Fatalf("the rerun claimed %v (unclaimed %v, %v), want u1/d1 and u2/d2 (u3/d3 is another holder's)", claimed, unclaimed, err)
	}
}
