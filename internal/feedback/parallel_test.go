package feedback

import (
	"fmt"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	datasync "github.com/mportal/mportal/sync"
)

// TestPushWritesEditsAndDeletesSeveralAtOnce pushes edits and deletes that writeEach spreads
// over its writers: they are applied as pushed (two edits of one record in one push: the
// second wins), refused records are listed in the push's order, and the in-memory copy equals
// the database afterwards.
func TestPushWritesEditsAndDeletesSeveralAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	const n = 24
	var recs []any
	for i := range n {
		recs = append(recs, newRecord(fmt.Sprintf("p%02d", i), "original"))
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: recs}}), n)
	wantAccepted(t, f.push(bob, map[string]changes{"feedback": {Created: []any{newRecord("bobs", "bob's")}}}), 1)

	var edits []any
	var wantRejectedIDs []string
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		switch {
		case i%7 == 3:
			edits = append(edits, with(newRecord(id, "x"), "category", "rant"))
			wantRejectedIDs = append(wantRejectedIDs, id)
		case i%5 == 0:
			edits = append(edits, newRecord(id, "first edit"), newRecord(id, "second edit"))
		default:
			edits = append(edits, newRecord(id, "edited"))
		}
		if i == n/2 {
			edits = append(edits, newRecord("bobs", "not alice's"))
			wantRejectedIDs = append(wantRejectedIDs, "bobs")
		}
	}
	res := f.push(alice, map[string]changes{"feedback": {Updated: edits}})
	if got := rejectedIDs(res.Rejected); !slices.Equal(got, wantRejectedIDs) {
		t.Fatalf("rejected %v, want %v in the push's order", got, wantRejectedIDs)
	}
	wantRejected(t, res, "bobs", apperr.NotFound)
	if res.Accepted != len(edits)-len(wantRejectedIDs) {
		t.Errorf("accepted %d, want %d", res.Accepted, len(edits)-len(wantRejectedIDs))
	}
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		want := "edited"
		switch {
		case i%7 == 3:
			want = "original"
		case i%5 == 0:
			want = "second edit"
		}
		if d := f.doc(id); d.Text != want {
			t.Errorf("%s: text %q, want %q", id, d.Text, want)
		}
	}

	var deletes []string
	for i := range n {
		deletes = append(deletes, fmt.Sprintf("p%02d", i))
		if i == 5 {
			deletes = append(deletes, "bobs")
		}
	}
	res = f.push(alice, map[string]changes{"feedback": {Deleted: deletes}})
	if got := rejectedIDs(res.Rejected); !slices.Equal(got, []string{"bobs"}) || res.Accepted != n {
		t.Fatalf("accepted %d, rejected %v; want %d and bobs", res.Accepted, got, n)
	}
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		d := f.doc(id)
		cached, found, _ := f.svc.cache.get(id)
		if !d.Deleted || !found || !cached.Deleted || cached.Seq != d.Seq || cached.Text != d.Text {
			t.Errorf("%s: database deleted=%v seq %d text %q, memory found=%v deleted=%v seq %d text %q",
				id, d.Deleted, d.Seq, d.Text, found, cached.Deleted, cached.Seq, cached.Text)
		}
	}
	if d := f.doc("bobs"); d.Deleted || d.Text != "bob's" {
		t.Errorf("bob's feedback changed: %+v", d)
	}
}

func rejectedIDs(rs []datasync.RejectedRecord) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
