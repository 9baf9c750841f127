package inbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is the shared settable test clock.
type clock = testenv.Clock

type fixture struct {
	ctx   context.Context
	store *inbox.Store
	clock *clock
}

// newFixture returns a store whose users read English, except "zh" who reads Chinese.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), clock: testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	f.store = &inbox.Store{DB: testenv.Mongo(t), Now: f.clock.Now,
		Locale: func(_ context.Context, userID string) (string, error) {
			if userID == "zh" {
				return "zh-CN", nil
			}
			return "en", nil
		}}
	if err := f.store.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// item is userID's item of notification n, created now.
func (f *fixture) item(userID, n string) push.InboxItem {
	return push.InboxItem{ID: inbox.ItemID(userID, n), UserID: userID, NotificationID: n,
		Category: push.CategoryAnnouncement, CreatedAt: f.clock.Now(),
		Title: map[string]string{"en": "Title " + n, "zh-CN": "标题 " + n}, Body: map[string]string{"en": "Body " + n},
		DeepLink: "mportal://announcements/" + n, Data: map[string]string{"announcement_id": n}}
}

func (f *fixture) add(t *testing.T, items ...push.InboxItem) {
	t.Helper()
	if err := f.store.Add(f.ctx, items); err != nil {
		t.Fatalf("add: %v", err)
	}
}

func (f *fixture) list(t *testing.T, user string, limit int, cursor string) ([]inbox.Item, string) {
	t.Helper()
	items, next, err := f.store.List(f.ctx, principal(user), limit, cursor)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return items, next
}

func (f *fixture) unread(t *testing.T, user string) int {
	t.Helper()
	n, err := f.store.UnreadCount(f.ctx, principal(user))
	if err != nil {
		t.Fatalf("unread count: %v", err)
	}
	return n
}

func principal(user string) *auth.Principal {
	return &auth.Principal{UserID: user, Roles: []auth.Role{auth.RoleEmployee}}
}

func ids(items []inbox.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("error = %v, want code %q field %q", err, code, field)
	}
}

func TestAdd(t *testing.T) {
	t.Run("writes each item once and keeps the read state when added again", func(t *testing.T) {
		f := newFixture(t)
		f.add(t, f.item("u1", "n1"), f.item("u2", "n1"))
		if err := f.store.MarkRead(f.ctx, principal("u1"), inbox.ItemID("u1", "n1")); err != nil {
			t.Fatal(err)
		}
		// A fan-out chunk written again after a crash, with one new item among old ones.
		f.add(t, f.item("u1", "n1"), f.item("u2", "n1"), f.item("u3", "n1"))
		items, _ := f.list(t, "u1", 0, "")
		if len(items) != 1 || !items[0].Read {
			t.Fatalf("u1's inbox %+v", items)
		}
		if items, _ := f.list(t, "u3", 0, ""); len(items) != 1 {
			t.Fatalf("u3's inbox %+v", items)
		}
	})
	t.Run("refuses an item whose id is not its user's and notification's", func(t *testing.T) {
		f := newFixture(t)
		it := f.item("u1", "n1")
		it.ID = "u2/n1"
		if err := f.store.Add(f.ctx, []push.InboxItem{it}); err == nil {
			t.Fatal("a mismatched id was accepted")
		}
	})
	t.Run("dates a scheduled notification's item when it arrives", func(t *testing.T) {
		f := newFixture(t)
		it := f.item("u1", "scheduled")
		it.CreatedAt = f.clock.Now().Add(-72 * time.Hour) // enqueued three days before delivery
		f.add(t, it)
		items, _ := f.list(t, "u1", 0, "")
		if !items[0].CreatedAt.Equal(f.clock.Now()) {
			t.Fatalf("created_at %v, want the delivery time %v", items[0].CreatedAt, f.clock.Now())
		}
	})
}

func TestList(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		f.add(t, f.item("en", fmt.Sprintf("n%d", i)), f.item("zh", fmt.Sprintf("n%d", i)))
		if i != 2 { // n2 and n3 share a timestamp: the id breaks the tie
			f.clock.Advance(time.Second)
		}
	}
	f.add(t, f.item("other", "secret"))

	t.Run("lists the caller's items newest first in their locale", func(t *testing.T) {
		items, next := f.list(t, "en", 0, "")
		if got := fmt.Sprint(ids(items)); got != "[n4 n3 n2 n1 n0]" || next != "" {
			t.Fatalf("items %s, next %q", got, next)
		}
		it := items[0]
		if it.Title != "Title n4" || it.Body != "Body n4" || it.DeepLink != "mportal://announcements/n4" ||
			it.Data["announcement_id"] != "n4" || it.Category != push.CategoryAnnouncement || it.Read || it.ReadAt != nil {
			t.Fatalf("item %+v", it)
		}
		zh, _ := f.list(t, "zh", 1, "")
		if zh[0].Title != "标题 n4" || zh[0].Body != "Body n4" { // no Chinese body: English is the fallback
			t.Fatalf("zh item %+v", zh[0])
		}
	})
	t.Run("pages through ties without losing or repeating an item", func(t *testing.T) {
		var all []string
		cursor := ""
		for page := 0; ; page++ {
			items, next := f.list(t, "en", 2, cursor)
			all = append(all, ids(items)...)
			if next == "" {
				break
			}
			if page > 5 {
				t.Fatal("paging does not end")
			}
			cursor = next
		}
		if got := fmt.Sprint(all); got != "[n4 n3 n2 n1 n0]" {
			t.Fatalf("pages %s", got)
		}
	})
	t.Run("never shows another user's items, even with their cursor", func(t *testing.T) {
		_, next := f.list(t, "en", 1, "")
		items, _ := f.list(t, "other", 0, next)
		if len(items) != 0 {
			t.Fatalf("other sees %v", ids(items))
		}
	})
	t.Run("rejects bad paging with the parameter named", func(t *testing.T) {
		_, _, err := f.store.List(f.ctx, principal("en"), 0, "not a cursor!")
		wantCode(t, err, apperr.Invalid, "cursor")
		_, _, err = f.store.List(f.ctx, principal("en"), -1, "")
		wantCode(t, err, apperr.Invalid, "limit")
	})
	t.Run("requires a principal", func(t *testing.T) {
		_, _, err := f.store.List(f.ctx, nil, 0, "")
		wantCode(t, err, apperr.Unauthorized, "")
	})
}

func TestRead(t *testing.T) {
	t.Run("marks one item read, idempotently, keeping the first time", func(t *testing.T) {
		f := newFixture(t)
		f.add(t, f.item("u1", "n1"), f.item("u1", "n2"))
		if n := f.unread(t, "u1"); n != 2 {
			t.Fatalf("unread %d", n)
		}
		first := f.clock.Now()
		for range 2 {
			if err := f.store.MarkRead(f.ctx, principal("u1"), inbox.ItemID("u1", "n1")); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Minute)
		}
		if n := f.unread(t, "u1"); n != 1 {
			t.Fatalf("unread %d", n)
		}
		items, _ := f.list(t, "u1", 0, "")
		if read := items[1]; read.ID != "n1" || !read.Read || !read.ReadAt.Equal(first) {
			t.Fatalf("read item %+v, want read at %v", read, first)
		}
	})
	t.Run("answers not_found for another user's item and leaves it unread", func(t *testing.T) {
		f := newFixture(t)
		f.add(t, f.item("u1", "n1"))
		for _, id := range []string{inbox.ItemID("u1", "n1"), "u2/", "u2", inbox.ItemID("u2", "missing")} {
			err := f.store.MarkRead(f.ctx, principal("u2"), id)
			wantCode(t, err, apperr.NotFound, "")
		}
		if n := f.unread(t, "u1"); n != 1 {
			t.Fatalf("unread %d", n)
		}
	})
	t.Run("marks everything read with a watermark that later items stay above", func(t *testing.T) {
		f := newFixture(t)
		f.add(t, f.item("u1", "n1"), f.item("u1", "n2"), f.item("u2", "n1"))
		if err := f.store.MarkAllRead(f.ctx, principal("u1")); err != nil {
			t.Fatal(err)
		}
		watermark := f.clock.Now()
		if n := f.unread(t, "u1"); n != 0 {
			t.Fatalf("unread after read-all %d", n)
		}
		if n := f.unread(t, "u2"); n != 1 {
			t.Fatalf("u2's unread %d", n)
		}
		f.clock.Advance(time.Second)
		f.add(t, f.item("u1", "n3"))
		// A clock that went back does not move the watermark back.
		f.clock.Advance(-time.Hour)
		if err := f.store.MarkAllRead(f.ctx, principal("u1")); err != nil {
			t.Fatal(err)
		}
		if n := f.unread(t, "u1"); n != 1 {
			t.Fatalf("unread after a new item %d", n)
		}
		items, _ := f.list(t, "u1", 0, "")
		if items[0].ID != "n3" || items[0].Read || !items[1].Read || !items[1].ReadAt.Equal(watermark) {
			t.Fatalf("items %+v", items)
		}
	})
	t.Run("survives many first-time read-alls at once", func(t *testing.T) {
		f := newFixture(t)
		f.add(t, f.item("u1", "n1"))
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() { errs <- f.store.MarkAllRead(f.ctx, principal("u1")) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := f.unread(t, "u1"); n != 0 {
			t.Fatalf("unread %d", n)
		}
	})
}

func TestRestampDuringMarkRead(t *testing.T) {
	// A batch written again (a retried fan-out) restamps its items while their users mark them
	// read. The shared FerretDB is reached by its URI, as a FerretDB server would be: the
	// embedded connection's write gate queues every update and so hides lost updates, but it
	// bypasses itself after a wait and is not what makes a write correct (mongodb/writegate.go).
	ctx := context.Background()
	db, err := mongodb.Open(ctx, testenv.MongoURI(t), testenv.RandomName("t_"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.DB.Drop(ctx); _ = db.Close(ctx) })
	f := &fixture{ctx: ctx, clock: testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}
	f.store = &inbox.Store{DB: db, Now: f.clock.Now}
	e := &datasync.Engine{DB: db, Now: f.clock.Now}
	e.Register(f.store.SyncTable())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	seqs := &seqRecorder{inner: e, max: map[string]int64{}}
	f.store.Sync = seqs

	const rounds, perRound = 5, 32
	lostRead, lostSeq := 0, 0
	for round := range rounds {
		items := make([]push.InboxItem, perRound)
		for i := range items {
			items[i] = f.item("u1", fmt.Sprintf("r%dn%d", round, i))
		}
		f.add(t, items...)
		var wg sync.WaitGroup
		for _, it := range items {
			wg.Go(func() {
				if err := f.store.Add(ctx, []push.InboxItem{it}); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				if err := f.store.MarkRead(ctx, principal("u1"), it.ID); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for _, it := range items {
			var d struct {
				ReadAt *time.Time `bson:"read_at"`
				Seq    int64      `bson:"_seq"`
			}
			if err := db.Collection("inbox").FindOne(ctx, bson.D{{Key: "_id", Value: it.ID}}).Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d.ReadAt == nil {
				lostRead++
			}
			if d.Seq < seqs.highest(it.ID) {
				lostSeq++
			}
		}
	}
	if lostRead > 0 || lostSeq > 0 {
		t.Fatalf("of %d items, %d lost their read mark and %d their newest sequence number", rounds*perRound, lostRead, lostSeq)
	}
}

// seqRecorder is a Sync that remembers the highest sequence number each item was written under,
// the _seq the item must end with.
type seqRecorder struct {
	inner inbox.Sync
	mu    sync.Mutex
	max   map[string]int64
}

func (r *seqRecorder) Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error {
	return r.inner.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		touches, err := fn(ctx, seq)
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, t := range touches {
			for _, rec := range t.Records {
				r.max[rec.ID] = max(r.max[rec.ID], seq)
			}
		}
		return touches, err
	})
}

func (r *seqRecorder) highest(itemID string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.max[itemID]
}
