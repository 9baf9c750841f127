package push_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

func TestEnqueueTwiceSendsOnce(t *testing.T) {
	db := testenv.Mongo(t)
	dir := seedDirectory(t, db, "twice", 20)
	fcm, fake := outboxFCM(t)
	e := newEngine(db, fcm, &memInbox{})
	ctx := context.Background()
	n := announcement("ann-1")
	id, created, err := e.Enqueue(ctx, n)
	if err != nil || !created || id != "ann-1" {
		t.Fatalf("first enqueue: id=%q created=%v err=%v", id, created, err)
	}
	id, created, err = e.Enqueue(ctx, n)
	if err != nil || created || id != "ann-1" {
		t.Fatalf("second enqueue: id=%q created=%v err=%v", id, created, err)
	}
	run(t, e)
	waitDone(t, e, id)
	// Completion records done_at, then deletes push_active; wait for both before re-enqueuing.
	eventually(t, id+" leaves push_active", func() (bool, error) {
		err := db.Collection("push_active").FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
		if mongodb.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if _, created, err := e.Enqueue(ctx, n); err != nil || created {
		t.Fatalf("enqueue after done: created=%v err=%v", created, err)
	}
	if err := db.Collection("push_active").FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); !mongodb.IsNotFound(err) {
		t.Fatalf("the done notification was queued again (err %v)", err)
	}
	// A repeated key after completion must not start a new fan-out. Another notification
	// enqueued after it gives the engine every chance to (wrongly) send the first one again.
	waitDone(t, e, enqueue(t, e, announcement("ann-later")))
	for _, tok := range dir.tokens {
		if c := fake.Count(tok); c != 2 {
			t.Fatalf("token %s got %d messages, want one per notification", tok, c)
		}
	}
}

func TestFanoutToTwoThousandDevices(t *testing.T) {
	db := testenv.Mongo(t)
	dir := seedDirectory(t, db, "fan", 2000)
	fcm, fake := outboxFCM(t)
	sender := &countingSender{Sender: fcm}
	inbox := &memInbox{}
	e := newEngine(db, sender, inbox)
	e.ClaimsGrace = 3 * time.Second
	id := enqueue(t, e, announcement("ann-2000"))
	run(t, e)
	waitDone(t, e, id)
	// Finished, its claims stay for the grace: a holder stalled past its lease that still
	// sends a batch of it finds every device claimed. Before, they were dropped at once, its
	// insert recreated them empty, and the batch went out twice.
	names, err := db.DB.ListCollectionNames(context.Background(), bson.D{})
	claims := slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "push_sent_") })
	if err != nil || len(claims) != 1 {
		t.Fatalf("claim collections just after completion: %v (%v), want the notification's", claims, err)
	}

	t.Run("each device gets exactly one message", func(t *testing.T) {
		exactlyOnce(t, fake, dir.tokens)
		if got := fake.Total(); got != 2000 {
			t.Fatalf("fake accepted %d messages, want 2000", got)
		}
	})
	t.Run("sends in batches of at most 500", func(t *testing.T) {
		if sender.maxBatch > push.MaxBatch || sender.calls < 4 {
			t.Fatalf("%d calls, largest batch %d", sender.calls, sender.maxBatch)
		}
	})
	t.Run("writes one inbox item per user", func(t *testing.T) {
		if inbox.len() != 2000 || !inbox.has(dir.users[1234], id) {
			t.Fatalf("inbox has %d items", inbox.len())
		}
	})
	t.Run("localizes and links the message", func(t *testing.T) {
		m := fake.Messages()[0]
		if m.Title != "公告" || m.Data["deep_link"] != "mportal://announcements/ann-2000" ||
			m.Data["notification_id"] != id || m.Data["category"] != "announcement" {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("leaves no pending work behind", func(t *testing.T) {
		// Leases are deleted just after their work is recorded, so wait for the last ones.
		for _, coll := range []string{"push_active", "push_batches", "push_leases"} {
			eventually(t, coll+" is empty", func() (bool, error) {
				n, err := db.Collection(coll).EstimatedDocumentCount(context.Background())
				return n == 0, err
			})
		}
		// The notification's claims and batch device lists are dropped after the grace.
		eventually(t, "its claims and device lists are dropped", func() (bool, error) {
			names, err := db.DB.ListCollectionNames(context.Background(), bson.D{})
			for _, name := range names {
				if strings.HasPrefix(name, "push_sent_") || strings.HasPrefix(name, "push_batch_devices") {
					return false, err
				}
			}
			return true, err
		})
	})
}

// stoppingSource wraps a RecipientSource and calls stop after the given number of batches.
type stoppingSource struct {
	push.RecipientSource
	after int
	stop  func()
	mu    sync.Mutex
	seen  int
}

func (s *stoppingSource) Stream(ctx context.Context, aud push.Audience, cursor string, fn func([]push.Recipient, string) error) error {
	return s.RecipientSource.Stream(ctx, aud, cursor, func(b []push.Recipient, c string) error {
		err := fn(b, c)
		s.mu.Lock()
		s.seen++
		if s.seen == s.after {
			s.stop()
		}
		s.mu.Unlock()
		return err
	})
}

func TestRestart(t *testing.T) {
	tests := []struct {
		name string
		// interrupt arranges for stop to be called part-way through the first engine's work.
		interrupt func(e *push.Engine, sender *countingSender, stop func())
	}{
		{"a restart mid-fan-out delivers every device exactly once", func(e *push.Engine, _ *countingSender, stop func()) {
			// After one flush of four source batches is written, during the next.
			e.Recipients = &stoppingSource{RecipientSource: e.Recipients, after: 5, stop: stop}
		}},
		{"a restart mid-send delivers every device exactly once", func(_ *push.Engine, sender *countingSender, stop func()) {
			sender.after = func(call int) {
				if call == 1 {
					stop()
				}
			}
		}},
	}
	// Each engine stands for a process: with a view, the restarted one loads its own.
	sources := []struct {
		name string
		of   func(db *mongodb.DB) push.RecipientSource
	}{
		{"streaming from the database", func(db *mongodb.DB) push.RecipientSource { return &directory.Recipients{DB: db} }},
		{"streaming from the recipient view", func(db *mongodb.DB) push.RecipientSource {
			return &directory.Recipients{DB: db, View: &directory.RecipientView{DB: db}}
		}},
	}
	for _, tt := range tests {
		for _, src := range sources {
			t.Run(tt.name+" "+src.name, func(t *testing.T) { testRestart(t, src.of, tt.interrupt) })
		}
	}
}

func testRestart(t *testing.T, source func(db *mongodb.DB) push.RecipientSource,
	interrupt func(e *push.Engine, sender *countingSender, stop func())) {
	db := testenv.Mongo(t)
	dir := seedDirectory(t, db, "restart", 3000)
	fcm, fake := outboxFCM(t)
	sender := &countingSender{Sender: fcm}
	first := newEngine(db, sender, &memInbox{})
	first.Recipients = source(db)
	ctx, cancel := context.WithCancel(context.Background())
	interrupt(first, sender, cancel)
	id := enqueue(t, first, announcement("ann-restart"))
	if err := first.Run(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := first.Status(context.Background(), id)
	if err != nil || s.State == push.StateDone || fake.Total() >= 3000 {
		t.Fatalf("the first engine was not interrupted: %+v, %d sent, err %v", s, fake.Total(), err)
	}

	second := newEngine(db, fcm, &memInbox{})
	second.Recipients = source(db)
	run(t, second)
	waitDone(t, second, id)
	exactlyOnce(t, fake, dir.tokens)
}

func TestTwoEnginesShareTheWork(t *testing.T) {
	db := testenv.Mongo(t)
	dir := seedDirectory(t, db, "two", 3000)
	// The second engine has a connection of its own, as another process would.
	ctx := context.Background()
	other, err := mongodb.Open(ctx, testenv.MongoURI(t), db.DB.Name(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	fcm, fake := outboxFCM(t)
	a, b := newEngine(db, fcm, &memInbox{}), newEngine(other, fcm, &memInbox{})
	run(t, a)
	run(t, b)
	ids := []string{enqueue(t, a, announcement("ann-a")), enqueue(t, b, announcement("ann-b"))}
	for _, id := range ids {
		waitDone(t, a, id)
	}
	exactly(t, fake, dir.tokens, 2) // one per notification
}

func TestPushOffStillWritesTheInbox(t *testing.T) {
	db := testenv.Mongo(t)
	dir := seedDirectory(t, db, "off", 30)
	_, fake := outboxFCM(t)
	inbox := &memInbox{}
	e := newEngine(db, nil, inbox)
	id := enqueue(t, e, announcement("ann-off"))
	run(t, e)
	waitDone(t, e, id)
	if inbox.len() != 30 || !inbox.has(dir.users[7], id) {
		t.Fatalf("inbox has %d items, want 30", inbox.len())
	}
	// Nothing could have reached the fake: the engine has no sender.
	if fake.Total() != 0 {
		t.Fatalf("fake got %d messages", fake.Total())
	}
}
