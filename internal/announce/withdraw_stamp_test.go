package announce

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/testenv"
	datasync "github.com/mportal/mportal/sync"
)

// touchingSync is flakySync keeping the touches of the writes that ran.
type touchingSync struct {
	flakySync
	mu      sync.Mutex
	touches [][]datasync.Touch
}

func (s *touchingSync) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	return s.flakySync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		t, err := fn(ctx, seq)
		s.mu.Lock()
		s.touches = append(s.touches, t)
		s.mu.Unlock()
		return t, err
	})
}

// A withdrawal is stamped for the announcements table and every inbox, naming the marker that
// keeps the inbox's pulls exact; one whose stamp failed is stamped by PublishDue after the
// grace (as a publication is), else devices kept the announcement and its inbox items. Withdrawn
// names the publication's and every reminder's notification for cursors before the stamp.
func TestWithdrawalIsStampedForEveryInbox(t *testing.T) {
	db := testenv.Mongo(t)
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	sync := &touchingSync{}
	s := &Service{DB: db, Push: &countingPusher{}, Members: staticMembers{}, Sync: sync, Now: func() time.Time { return now }}
	ctx := context.Background()
	a, err := s.Create(ctx, opsUser, Input{Title: ptr("Now"), Body: ptr("Today."), Audience: &Audience{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2"} { // two reminders were sent
		if _, err := db.Collection(remindersColl).InsertOne(ctx, bson.D{{Key: "_id", Value: a.ID + ":" + n},
			{Key: "announcement", Value: a.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	before := sync.seq

	sync.flakySync.mu.Lock()
	sync.fail = errors.New("the sync sequence is unavailable")
	sync.flakySync.mu.Unlock()
	if _, err := s.Withdraw(ctx, opsUser, a.ID); err == nil {
		t.Fatal("Withdraw succeeded with the sync write failing")
	}
	sync.flakySync.mu.Lock()
	sync.fail = nil
	sync.flakySync.mu.Unlock()
	if _, recent, err := s.Withdrawn(ctx, before); err != nil || len(recent) != 0 {
		t.Fatalf("recent %v (%v) before the withdrawal was stamped", recent, err)
	}
	if err := s.PublishDue(ctx); err != nil || sync.seq != before {
		t.Fatalf("stamped within the grace (%v)", err)
	}
	now = now.Add(enqueueGrace + time.Second)
	if err := s.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if sync.seq != before+1 {
		t.Fatalf("PublishDue wrote %d stamps, want the withdrawal's", sync.seq-before)
	}
	last := sync.touches[len(sync.touches)-1]
	marker := datasync.TouchedRecord{Key: datasync.AllKey, ID: inbox.WithdrawalMarker(a.ID)}
	if !slices.ContainsFunc(last, func(tc datasync.Touch) bool {
		return tc.Table == inbox.SyncTableName && slices.Contains(tc.Records, marker)
	}) {
		t.Fatalf("the withdrawal's stamp touched %+v, not every inbox with the marker", last)
	}
	all, recent, err := s.Withdrawn(ctx, before)
	want := []string{"announcement:" + a.ID + ":publish", "announcement:" + a.ID + ":remind:1", "announcement:" + a.ID + ":remind:2"}
	if err != nil || !slices.Equal(all, []string{a.ID}) || !slices.Equal(recent, want) {
		t.Fatalf("Withdrawn(%d) = %v, %v, %v; want [%s], %v", before, all, recent, err, a.ID, want)
	}
	if _, recent, _ := s.Withdrawn(ctx, sync.seq); len(recent) != 0 {
		t.Errorf("recent %v for a cursor past the withdrawal", recent)
	}
	if err := s.PublishDue(ctx); err != nil || sync.seq != before+1 {
		t.Fatalf("stamped again once confirmed (%v)", err)
	}
}
