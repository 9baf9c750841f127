package push_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

// partSender answers the first Send with a Retry for every message (an FCM 503) and holds the
// second until release is closed, as a slow provider would while the process is killed.
type partSender struct {
	push.Sender
	mu       sync.Mutex
	calls    int
	inSecond chan struct{}
	release  chan struct{}
}

func (s *partSender) Send(ctx context.Context, msgs []push.Message) ([]push.Result, error) {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	switch call {
	case 1:
		res := make([]push.Result, len(msgs))
		for i := range res {
			res[i] = push.Result{Outcome: push.Retry, Reason: "unavailable"}
		}
		return res, nil
	case 2:
		close(s.inSecond)
		<-s.release
	}
	return s.Sender.Send(ctx, msgs)
}

// A batch's parts are recorded one by one: while the second part is in flight, the first part's
// retry batch is already stored. Recorded at the end, a process killed during the second part
// lost the first part's retries for good (its devices' claims make every later run skip them).
func TestAPartsRetriesAreStoredBeforeTheNextPartIsSent(t *testing.T) {
	db := testenv.Mongo(t)
	seedDirectory(t, db, "parts", 2*push.MaxBatch)
	fcm, _ := outboxFCM(t)
	sender := &partSender{Sender: fcm, inSecond: make(chan struct{}), release: make(chan struct{})}
	e := newEngine(db, sender, &memInbox{})
	e.BackoffBase = time.Hour // the retry waits: it is looked at, not sent, while the test runs
	e.BackoffCap = time.Hour
	id := enqueue(t, e, announcement("ann-parts"))
	stop := run(t, e)
	defer stop()
	<-sender.inSecond
	var retry struct {
		Attempt int `bson:"attempt"`
		Size    int `bson:"size"`
	}
	err := db.Collection("push_batches").FindOne(context.Background(), bson.D{
		{Key: "notification", Value: id}, {Key: "attempt", Value: 2}}).Decode(&retry)
	close(sender.release)
	if err != nil || retry.Size != push.MaxBatch {
		t.Fatalf("the first part's retry batch while the second is sent: %+v (%v)", retry, err)
	}
}
