package inbox_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// The items of a withdrawn announcement leave the list, the count and the synced table; other
// items (of other announcements, or of no announcement at all) stay, and paging passes over the
// withdrawn ones. A device whose cursor is before the withdrawal is sent them deleted, once.
func TestWithdrawnAnnouncementsLeaveTheInbox(t *testing.T) {
	f := newFixture(t)
	e := &datasync.Engine{DB: f.store.DB, Now: f.clock.Now}
	f.store.Sync = e
	spy := &exactSpy{Table: f.store.SyncTable()}
	e.Register(spy)
	if err := e.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	approval := f.item("en", "task-1")
	approval.Category, approval.Data = push.CategoryApproval, map[string]string{"task_id": "T1"}
	f.add(t, f.item("en", "a1"), f.item("en", "a2"), approval, f.item("en", "a3"), f.item("zh", "a2"))
	before := syncPull(t, e, "en", 0)
	if got := recIDs(before.Changes["inbox"].Updated); len(got) != 4 {
		t.Fatalf("first sync %v", got)
	}

	// Withdrawing a2: its stamp touches every inbox, naming a marker, as announce does.
	var withdrawnAt int64
	if err := e.Write(f.ctx, func(_ context.Context, seq int64) ([]datasync.Touch, error) {
		withdrawnAt = seq
		return []datasync.Touch{{Table: inbox.SyncTableName, Keys: []string{datasync.AllKey},
			Records: []datasync.TouchedRecord{{Key: datasync.AllKey, ID: inbox.WithdrawalMarker("a2")}}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	f.store.Withdrawn = func(_ context.Context, since int64) (all, recent []string, err error) {
		if since > 0 && since < withdrawnAt {
			recent = []string{"a2", "a2-reminder-never-sent"}
		}
		return []string{"a2"}, recent, nil
	}

	var listed []string
	for cursor := ""; ; {
		items, next := f.list(t, "en", 1, cursor)
		listed = append(listed, ids(items)...)
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Sort(listed)
	if want := []string{"a1", "a3", "task-1"}; !slices.Equal(listed, want) {
		t.Errorf("listed page by page: %v, want %v", listed, want)
	}
	if n := f.unread(t, "en"); n != 3 {
		t.Errorf("unread %d, want 3", n)
	}

	r := syncPull(t, e, "en", before.Timestamp)
	if got := r.Changes["inbox"]; len(got.Updated) != 0 || !slices.Equal(got.Deleted, []string{"a2"}) {
		t.Fatalf("pull after the withdrawal: updated %v, deleted %v; want a2 deleted only (not the reminder it never had)", recIDs(got.Updated), got.Deleted)
	}
	// The withdrawal named its marker: the pull still read its changes by id (a cursor query
	// reads the whole inbox collection on the stand-in FerretDB, for every user's next pull).
	if !spy.last {
		t.Errorf("the pull after the withdrawal was not exact")
	}
	if got := syncPull(t, e, "zh", 0).Changes["inbox"]; len(got.Updated) != 0 || len(got.Deleted) != 0 {
		t.Errorf("a first sync after the withdrawal: updated %v, deleted %v", recIDs(got.Updated), got.Deleted)
	}

	// An item of the withdrawn announcement written again (a mark read, a retried fan-out) is
	// not sent live again, read by id or not; others are.
	cursor := r.Timestamp
	for _, id := range []string{"a2", "a1"} {
		if err := f.store.MarkRead(f.ctx, principal("en"), inbox.ItemID("en", id)); err != nil {
			t.Fatal(err)
		}
	}
	again := syncPull(t, e, "en", cursor)
	if got := again.Changes["inbox"]; !slices.Equal(recIDs(got.Updated), []string{"a1"}) || len(got.Deleted) != 0 || !spy.last {
		t.Errorf("pull after marking a1 and a2 read: updated %v, deleted %v, exact %v", recIDs(got.Updated), got.Deleted, spy.last)
	}
	if got := syncPull(t, e, "en", again.Timestamp).Changes["inbox"]; len(got.Updated)+len(got.Deleted) != 0 {
		t.Errorf("a pull with nothing new sent %v and deleted %v", recIDs(got.Updated), got.Deleted)
	}
}

// exactSpy is the inbox table, noting whether the engine's last pull of it was exact (read its
// changes by id).
type exactSpy struct {
	datasync.Table
	last bool
}

func (s *exactSpy) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	s.last = q.Exact
	return s.Table.Pull(ctx, q, out)
}

// RewritesAbandonedWrites: the inbox table's (datasync.Rewriter).
func (*exactSpy) RewritesAbandonedWrites() {}
