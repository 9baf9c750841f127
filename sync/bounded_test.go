package datasync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/testenv"
)

// hookedNotes is the notes table recording every Push call (one per attempt at a chunk of a
// push) and running hook, if set, before it writes.
type hookedNotes struct {
	*notesTable
	mu    sync.Mutex
	calls []pushCall
	hook  func(call pushCall)
}

type pushCall struct {
	seq   int64
	ids   []string
	rerun bool // Rerun(ctx)
}

func (h *hookedNotes) Push(ctx context.Context, p *auth.Principal, seq int64, ch Changes) (Applied, error) {
	call := pushCall{seq: seq, rerun: Rerun(ctx)}
	for _, raw := range slices.Concat(ch.Created, ch.Updated) {
		var r noteRecord
		_ = json.Unmarshal(raw, &r)
		call.ids = append(call.ids, r.ID)
	}
	call.ids = append(call.ids, ch.Deleted...)
	h.mu.Lock()
	h.calls = append(h.calls, call)
	hook := h.hook
	h.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	return h.notesTable.Push(ctx, p, seq, ch)
}

// pushes returns how many Push calls named each id.
func (h *hookedNotes) pushes() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, c := range h.calls {
		for _, id := range c.ids {
			out[id]++
		}
	}
	return out
}

func (h *hookedNotes) setHook(hook func(call pushCall)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = hook
}

// newHookedEngine starts an engine whose only table is a hookedNotes, on a fresh database.
func newHookedEngine(t *testing.T, clock *testenv.Clock) (*Engine, *hookedNotes) {
	t.Helper()
	db := testenv.Mongo(t)
	notes := &hookedNotes{notesTable: &notesTable{db: db, now: clock.Now}}
	e := &Engine{DB: db, Now: clock.Now}
	e.Register(notes)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, notes
}

func newTestClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
}

// createBody is a push creating one note per id.
func createBody(ids []string) []byte {
	recs := make([]noteRecord, len(ids))
	for i, id := range ids {
		recs[i] = noteRecord{ID: id, Text: "text of " + id}
	}
	b, _ := json.Marshal(map[string]any{"changes": map[string]any{"notes": map[string]any{
		"created": recs, "updated": []any{}, "deleted": []any{}}}})
	return b
}

func noteIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%0*d", prefix, 16-len(prefix), i)
	}
	return ids
}

// seqOf returns the sequence number a note was last written with.
func seqOf(t *testing.T, n *hookedNotes, id string) int64 {
	t.Helper()
	var d noteDoc
	if err := n.db.Collection("notes").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&d); err != nil {
		t.Fatalf("note %s: %v", id, err)
	}
	return d.Seq
}

func TestPushAtTheBodyLimitIsAppliedInBoundedWrites(t *testing.T) {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	e, notes := newHookedEngine(t, newTestClock())
	ctx := context.Background()
	alice := employee("alice")
	existing := noteIDs("note-", 200)
	if res, err := e.Push(ctx, alice, 0, createBody(existing)); err != nil || res.Accepted != len(existing) {
		t.Fatalf("push %+v, %v", res, err)
	}
	dev := newDevice()
	dev.sync(t, e, alice)
	before := dev.cursor

	// Deletes of the 200 notes and of ids the server never saw (a device deleting records it
	// never pushed), WatermelonDB-sized ids, up to exactly the body limit.
	var body bytes.Buffer
	body.WriteString(`{"changes":{"notes":{"created":[],"updated":[],"deleted":[`)
	const tail = `]}}}`
	var ids []string
	for i := 0; ; i++ {
		id := fmt.Sprintf("gone-%011d", i)
		if i < len(existing) {
			id = existing[i]
		}
		entry := `"` + id + `"`
		if i > 0 {
			entry = "," + entry
		}
		if body.Len()+len(entry)+len(tail) > cfg.BodyLimit {
			break
		}
		body.WriteString(entry)
		ids = append(ids, id)
	}
	body.WriteString(strings.Repeat(" ", cfg.BodyLimit-body.Len()-len(tail)) + tail)
	if body.Len() != cfg.BodyLimit {
		t.Fatalf("body of %d bytes, limit %d", body.Len(), cfg.BodyLimit)
	}
	notes.mu.Lock()
	notes.calls = nil
	notes.mu.Unlock()

	res, err := e.Push(ctx, alice, before, body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != len(ids) || len(res.Rejected) != 0 {
		t.Fatalf("accepted %d of %d, rejected %d", res.Accepted, len(ids), len(res.Rejected))
	}
	seqs := map[int64]bool{}
	var last int64
	for _, c := range notes.calls {
		if len(c.ids) > DefaultPushChunk {
			t.Fatalf("one write applied %d records, more than %d", len(c.ids), DefaultPushChunk)
		}
		if seqs[c.seq] {
			t.Fatalf("two writes with sequence number %d", c.seq)
		}
		seqs[c.seq], last = true, max(last, c.seq)
	}
	if want := len(ids) / DefaultPushChunk; len(notes.calls) < want {
		t.Fatalf("%d writes for %d records", len(notes.calls), len(ids))
	}
	for id, n := range notes.pushes() {
		if n != 1 {
			t.Fatalf("%s was applied %d times", id, n)
		}
	}
	t.Logf("%d deletes (%d bytes) in %d writes", len(ids), body.Len(), len(notes.calls))

	r := dev.sync(t, e, alice)
	if r.Timestamp < last {
		t.Fatalf("cursor %d after the push, whose last write is %d", r.Timestamp, last)
	}
	if got := dev.texts(); len(got) != 0 || len(r.Changes["notes"].Deleted) != len(existing) {
		t.Fatalf("after the push the device has %d notes and got %d deletes", len(got), len(r.Changes["notes"].Deleted))
	}
}

func TestSlowPushHoldsOtherUsersCursorsOnlyForTheLease(t *testing.T) {
	clock := newTestClock()
	e, notes := newHookedEngine(t, clock)
	ctx := context.Background()
	alice, bob := employee("alice"), employee("bob")
	bobDev, aliceDev := newDevice(), newDevice()
	bobDev.sync(t, e, bob)

	// Alice's second write stalls until released; everything else runs at once.
	started, release := make(chan struct{}), make(chan struct{})
	calls := 0
	notes.setHook(func(pushCall) {
		if calls++; calls == 2 {
			close(started)
			<-release
		}
	})
	ids := noteIDs("alice-", 300)
	type result struct {
		res *PushResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.Push(ctx, alice, 0, createBody(ids))
		done <- result{res, err}
	}()
	<-started
	pending := notes.calls[1].seq

	if err := notes.write(ctx, e, Record{ID: "bob-1", Keys: noteKeys("bob", ""),
		Set: bson.D{{Key: "text", Value: "bob's"}}}, nil); err != nil {
		t.Fatal(err)
	}
	bobSeq := seqOf(t, notes, "bob-1")
	if r := bobDev.sync(t, e, bob); r.Timestamp != pending-1 {
		t.Fatalf("while alice's write %d is pending, bob's cursor is %d, want %d", pending, r.Timestamp, pending-1)
	}
	clock.Advance(e.lease() + time.Millisecond)
	if r := bobDev.sync(t, e, bob); r.Timestamp < bobSeq {
		t.Fatalf("a lease after alice's write started, bob's cursor is %d, want at least %d", r.Timestamp, bobSeq)
	}
	if diff := cmp.Diff(map[string]string{"bob-1": "bob's"}, bobDev.texts()); diff != "" {
		t.Errorf("bob's device (-want +got):\n%s", diff)
	}
	// A pull sees the part of the push that committed: its first write.
	aliceDev.sync(t, e, alice)
	if got, want := len(aliceDev.texts()), len(notes.calls[0].ids); got != want {
		t.Fatalf("alice's device has %d notes during her push, want the %d of its first write", got, want)
	}

	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.res.Accepted != len(ids) || len(r.res.Rejected) != 0 {
		t.Fatalf("push %+v", r.res)
	}
	// The reaped write runs again; nothing else is applied twice.
	reaped := notes.calls[1].ids
	for id, n := range notes.pushes() {
		want := 1
		if slices.Contains(reaped, id) {
			want = 2
		}
		if n != want {
			t.Errorf("%s applied %d times, want %d", id, n, want)
		}
	}
	if n := countNotes(t, notes.notesTable); n != int64(len(ids))+1 {
		t.Fatalf("%d notes, want %d", n, len(ids)+1)
	}
	aliceDev.sync(t, e, alice)
	bobDev.sync(t, e, bob)
	if got := len(aliceDev.texts()); got != len(ids) {
		t.Fatalf("alice's device has %d notes, want %d", got, len(ids))
	}
	if diff := cmp.Diff(map[string]string{"bob-1": "bob's"}, bobDev.texts()); diff != "" {
		t.Errorf("bob's device (-want +got):\n%s", diff)
	}
}

func TestPushWriteThatAlwaysOutlivesItsLeaseIsRejected(t *testing.T) {
	clock := newTestClock()
	e, notes := newHookedEngine(t, clock)
	e.PushBudget = time.Hour // this test is about the attempts, not the push's time
	ctx := context.Background()
	alice, bob := employee("alice"), employee("bob")
	// Any write holding "stuck" outlives its lease: a pull of someone else reaps it.
	notes.setHook(func(call pushCall) {
		if slices.Contains(call.ids, "stuck") {
			clock.Advance(e.lease() + time.Millisecond)
			pull(t, e, bob, 0)
		}
	})
	ids := noteIDs("note-", 120)
	ids[60] = "stuck"
	res, err := e.Push(ctx, alice, 0, createBody(ids))
	if err != nil {
		t.Fatal(err)
	}
	// The write starting at the stuck record ran WriteAttempts times (on fewer records each
	// time), then the push gave up the records of the last attempt and moved on.
	var at []int
	for i, c := range notes.calls {
		if c.ids[0] == "stuck" {
			at = append(at, i)
		}
	}
	if len(at) != DefaultWriteAttempts || at[len(at)-1]-at[0] != DefaultWriteAttempts-1 {
		t.Fatalf("writes starting at the stuck record: calls %v", at)
	}
	given := notes.calls[at[len(at)-1]].ids
	for _, c := range notes.calls[at[len(at)-1]+1:] {
		if slices.Contains(c.ids, "stuck") {
			t.Fatalf("the stuck record was tried again after the push gave it up: %v", c.ids)
		}
	}
	if res.Accepted != len(ids)-len(given) || len(res.Rejected) != len(given) {
		t.Fatalf("accepted %d, rejected %+v; gave up %v", res.Accepted, res.Rejected, given)
	}
	stored, err := e.Rejects(ctx, alice)
	if err != nil || len(stored) != len(given) {
		t.Fatalf("stored rejects %+v, %v", stored, err)
	}
	byID := map[string]Reject{}
	for _, s := range stored {
		byID[s.RecordID] = s
	}
	for i, r := range res.Rejected {
		if r.ID != given[i] || r.Code != apperr.Unavailable || r.Detail != unconfirmedDetail || r.RejectID == "" {
			t.Fatalf("rejected[%d] = %+v", i, r)
		}
		if s := byID[r.ID]; s.Code != apperr.Unavailable || s.ID != r.RejectID {
			t.Fatalf("stored reject of %s: %+v", r.ID, s)
		}
	}

	t.Run("the device pushes it again and it is applied", func(t *testing.T) {
		notes.setHook(nil)
		res, err := e.Push(ctx, alice, 0, createBody(given))
		if err != nil || res.Accepted != len(given) || len(res.Rejected) != 0 {
			t.Fatalf("push %+v, %v", res, err)
		}
		dev := newDevice()
		dev.sync(t, e, alice)
		if got := len(dev.texts()); got != len(ids) {
			t.Fatalf("alice's device has %d notes, want %d", got, len(ids))
		}
	})
}

// Every record of a chunk that outlived its lease is written again as a rerun (Rerun), also
// those past the smaller chunk the push retries first: they too carry the reaped number, and a
// table that skipped them as unchanged left them where devices had read past.
func TestEveryRecordOfALostChunkIsRerun(t *testing.T) {
	clock := newTestClock()
	e, notes := newHookedEngine(t, clock)
	ctx := context.Background()
	first := true
	notes.setHook(func(pushCall) {
		if first {
			first = false
			clock.Advance(e.lease() + time.Millisecond)
			if _, err := e.lowWater(ctx); err != nil { // a pull, which reaps the chunk
				t.Error(err)
			}
		}
	})
	ids := noteIDs("note-", 20) // one first chunk (a tenth of PushChunk)
	res, err := e.Push(ctx, employee("alice"), 0, createBody(ids))
	if err != nil || res.Accepted != len(ids) {
		t.Fatalf("push %+v, %v", res, err)
	}
	seen := map[string]bool{}
	for i, c := range notes.calls {
		if c.rerun != (i > 0) {
			t.Errorf("write %d of %d records: rerun %v", i, len(c.ids), c.rerun)
		}
		if i > 0 {
			for _, id := range c.ids {
				seen[id] = true
			}
		}
	}
	if len(notes.calls) < 3 || len(seen) != len(ids) {
		t.Fatalf("%d writes; %d of %d records written again", len(notes.calls), len(seen), len(ids))
	}
}

func TestWriteGivesUpAfterItsAttempts(t *testing.T) {
	clock := newTestClock()
	e, _ := newHookedEngine(t, clock)
	ctx := context.Background()
	runs := 0
	err := e.Write(ctx, func(ctx context.Context, seq int64) ([]Touch, error) {
		runs++
		clock.Advance(e.lease() + time.Millisecond)
		_, err := e.lowWater(ctx) // a pull, which reaps the write
		return nil, err
	})
	if !apperr.Is(err, apperr.Unavailable) || runs != DefaultWriteAttempts {
		t.Fatalf("after %d runs: %v", runs, err)
	}
	snap, err := e.lowWater(ctx)
	if err != nil || snap.low != snap.n {
		t.Fatalf("a write left pending: %+v, %v", snap, err)
	}
}

func TestPushThatRunsOutOfTimeSendsTheRestBack(t *testing.T) {
	clock := newTestClock()
	e, notes := newHookedEngine(t, clock)
	ctx := context.Background()
	alice := employee("alice")
	// Every write takes half the push's budget, longer than the lease allows a write to take.
	notes.setHook(func(pushCall) { clock.Advance(e.pushBudget() / 2) })
	ids := noteIDs("note-", 300)
	res, err := e.Push(ctx, alice, 0, createBody(ids))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes.calls) != 2 || len(notes.calls[1].ids) >= len(notes.calls[0].ids) {
		t.Fatalf("writes of %d and %d records: the second should be smaller, and the last",
			len(notes.calls[0].ids), len(notes.calls[len(notes.calls)-1].ids))
	}
	applied := len(notes.calls[0].ids) + len(notes.calls[1].ids)
	if res.Accepted != applied || len(res.Rejected) != len(ids)-applied {
		t.Fatalf("accepted %d, rejected %d", res.Accepted, len(res.Rejected))
	}
	var again []string
	for i, r := range res.Rejected {
		if r.ID != ids[applied+i] || r.Code != apperr.Unavailable || r.Detail != deferredDetail || r.RejectID != "" {
			t.Fatalf("rejected[%d] = %+v", i, r)
		}
		again = append(again, r.ID)
	}
	if n := countNotes(t, notes.notesTable); n != int64(applied) {
		t.Fatalf("%d notes, want %d", n, applied)
	}
	if stored, err := e.Rejects(ctx, alice); err != nil || len(stored) != 0 {
		t.Fatalf("stored rejects %+v, %v", stored, err)
	}

	notes.setHook(nil)
	res, err = e.Push(ctx, alice, 0, createBody(again))
	if err != nil || res.Accepted != len(again) || len(res.Rejected) != 0 {
		t.Fatalf("pushed again: %+v, %v", res, err)
	}
	if n := countNotes(t, notes.notesTable); n != int64(len(ids)) {
		t.Fatalf("%d notes, want %d", n, len(ids))
	}
}

func TestConcurrentChunkedPushesNeverSkipAChange(t *testing.T) {
	clock := newTestClock()
	e, notes := newHookedEngine(t, clock)
	e.PushChunk = 16 // many small writes per push: 1, 2, 4, 8, 16, 16, ...
	ctx := context.Background()
	pushers := []string{"u0", "u1", "u2"}
	pullers := []*auth.Principal{{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}}, employee("u0"), employee("u1")}

	var wg sync.WaitGroup
	for _, user := range pushers {
		wg.Go(func() {
			p := employee(user)
			ids := noteIDs(user+"-", 60)
			var updated, deleted []any
			for i, id := range ids[:40] {
				if i%2 == 0 {
					updated = append(updated, noteRecord{ID: id, Text: "edited " + id})
				} else {
					deleted = append(deleted, id)
				}
			}
			bodies := [][]byte{createBody(ids)}
			b, _ := json.Marshal(map[string]any{"changes": map[string]any{"notes": map[string]any{
				"updated": updated, "deleted": deleted}}})
			bodies = append(bodies, b)
			for _, body := range bodies {
				// A device pushes again what the server could not apply in time.
				for try := 0; ; try++ {
					res, err := e.Push(ctx, p, 0, body)
					if err != nil {
						t.Error(err)
						return
					}
					if len(res.Rejected) == 0 {
						break
					}
					if try == 5 {
						t.Errorf("%s: still rejected after %d pushes: %+v", user, try+1, res.Rejected)
						return
					}
					body = againBody(t, body, res.Rejected)
				}
			}
		})
	}
	// Leases run out under the writers now and then: pulls reap their writes, which run again.
	wg.Go(func() {
		for range 10 {
			time.Sleep(5 * time.Millisecond)
			clock.Advance(e.lease() + time.Millisecond)
		}
	})
	devices := pullWhile(t, e, pullers, wg.Wait)
	for i, p := range pullers {
		devices[i].sync(t, e, p)
		if diff := cmp.Diff(visibleTexts(t, e, notes.notesTable, p), devices[i].texts()); diff != "" {
			t.Errorf("device of %s differs from the server (-server +device):\n%s", p.UserID, diff)
		}
	}
}

// againBody is the push of the records of body that were rejected as unavailable.
func againBody(t *testing.T, body []byte, rejected []RejectedRecord) []byte {
	t.Helper()
	var in struct {
		Changes map[string]struct {
			Created []noteRecord `json:"created"`
			Updated []noteRecord `json:"updated"`
			Deleted []string     `json:"deleted"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatal(err)
	}
	again := map[string]bool{}
	for _, r := range rejected {
		if r.Code != apperr.Unavailable {
			t.Errorf("rejected %+v", r)
		}
		again[r.ID] = true
	}
	ch := in.Changes["notes"]
	keep := func(r noteRecord) bool { return !again[r.ID] }
	ch.Created = slices.DeleteFunc(ch.Created, keep)
	ch.Updated = slices.DeleteFunc(ch.Updated, keep)
	ch.Deleted = slices.DeleteFunc(ch.Deleted, func(id string) bool { return !again[id] })
	out, _ := json.Marshal(map[string]any{"changes": map[string]any{"notes": ch}})
	return out
}
