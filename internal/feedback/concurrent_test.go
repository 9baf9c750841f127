package feedback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// TestConcurrentEditsAndTriage pushes the author's edits and deletes while ops change the same
// records: on FerretDB those writes filter by _id alone and rely on the record's lock, so
// every change must survive, and the in-memory copy must equal the database afterwards.
func TestConcurrentEditsAndTriage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 12
	var recs []any
	for i := range n {
		recs = append(recs, newRecord(fmt.Sprintf("k%02d", i), "original"))
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: recs}}), n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			var edits []any
			for i := range n {
				edits = append(edits, with(newRecord(fmt.Sprintf("k%02d", i), fmt.Sprintf("edit %d", w)), "_status", "updated"))
			}
			f.push(alice, map[string]changes{"feedback": {Updated: edits}})
		})
	}
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				if _, err := f.svc.Update(ctx, olga, fmt.Sprintf("k%02d", i), Update{Resolution: ptr("looking")}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i := range n {
		id := fmt.Sprintf("k%02d", i)
		d := f.doc(id)
		if !strings.HasPrefix(d.Text, "edit ") || (i%2 == 0) != (d.Resolution == "looking") {
			t.Errorf("%s: text %q resolution %q", id, d.Text, d.Resolution)
		}
		cached, found, _ := f.svc.cache.get(id)
		if !found || cached.Text != d.Text || cached.Resolution != d.Resolution || cached.Seq != d.Seq {
			t.Errorf("%s: memory has text %q resolution %q seq %d, the database %q %q %d",
				id, cached.Text, cached.Resolution, cached.Seq, d.Text, d.Resolution, d.Seq)
		}
	}
}

// TestOpsWritesOnTwoInstancesOfASharedFerretDB: two instances on one FerretDB reached by URI
// (the fault rig's setup) change one record at once. Each write that is answered 200 has its own
// ops version: none is lost. Before, DB.Lock spanned one process and the conditions were
// dropped from FerretDB's filter, so two writes read the same version and both went through.
func TestOpsWritesOnTwoInstancesOfASharedFerretDB(t *testing.T) {
	shared := testenv.Mongo(t)
	a := newFixtureOn(t, &mongodb.DB{Client: shared.Client, DB: shared.DB, FerretDB: true}, nil)
	b := newFixtureOn(t, &mongodb.DB{Client: shared.Client, DB: shared.DB, FerretDB: true}, nil)
	ctx := context.Background()
	wantAccepted(t, a.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("race", "broken")}}}), 1)
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			svc := a.svc
			if i%2 == 1 {
				svc = b.svc
			}
			_, err := svc.Update(ctx, olga, "race", Update{Resolution: ptr(fmt.Sprint("note ", i))})
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !apperr.Is(err, apperr.Conflict):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := a.doc("race"); d.OpsVersion != int64(ok) || ok == 0 {
		t.Fatalf("%d writes answered 200, ops version %d: each must have its own version", ok, d.OpsVersion)
	}
}

// TestAnAbandonedSlotIsTakenOver: an ops write that claimed a record's next version and then
// died (its instance crashed) leaves the slot behind; after slotTTL the next write takes it.
// Before, the record answered 409 to ops forever.
func TestAnAbandonedSlotIsTakenOver(t *testing.T) {
	shared := testenv.Mongo(t)
	a := newFixtureOn(t, &mongodb.DB{Client: shared.Client, DB: shared.DB, FerretDB: true}, nil)
	ctx := context.Background()
	wantAccepted(t, a.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("wedged", "broken")}}}), 1)
	if held, err := a.svc.claimSlot(ctx, "wedged", 1, "a writer that died"); err != nil || !held {
		t.Fatalf("claim: %v %v", held, err)
	}
	if _, err := a.svc.Update(ctx, olga, "wedged", Update{Resolution: ptr("looking")}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("while the slot is fresh: %v, want conflict", err)
	}
	a.clock.Advance(slotTTL + time.Second)
	if _, err := a.svc.Update(ctx, olga, "wedged", Update{Resolution: ptr("looking")}); err != nil {
		t.Fatalf("after slotTTL: %v", err)
	}
}
