package feedback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
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
