package feedback

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// TestIncrementalPullsByIDMatchAFirstSync runs feedback through the path of several instances
// on a shared database (no in-memory copy): pushes name their records, so an incremental pull
// reads the changed records by id (datasync.StreamByID). After creates, edits, comments,
// attachments and deletes, a device that synced all along must hold exactly what a new device
// gets on its first sync, and other users' devices nothing of it.
func TestIncrementalPullsByIDMatchAFirstSync(t *testing.T) {
	shared := testenv.Mongo(t)
	db := &mongodb.DB{Client: shared.Client, DB: shared.DB, FerretDB: shared.FerretDB} // not Embedded: no in-memory copy
	f := newFixtureOn(t, db, nil)
	along, bobs := f.device(alice), f.device(bob)
	along.sync()
	bobs.sync()

	var ids []any
	for i := range 6 {
		ids = append(ids, newRecord(fmt.Sprintf("px%d", i), fmt.Sprintf("record %d", i)))
	}
	steps := []map[string]changes{
		{"feedback": {Created: ids[:4]}},
		{"feedback": {Created: ids[4:], Updated: []any{with(ids[0].(map[string]any), "text", "edited once")}}},
		{"feedback_comments": {Created: []any{map[string]any{"id": "pc1", "feedback_id": "px1", "text": "a note", "created_at": clientTime}}},
			"feedback_attachments": {Created: []any{attachment("pa1", "px2")}}},
		{"feedback": {Updated: []any{with(ids[0].(map[string]any), "text", "edited twice")}, Deleted: []string{"px3"}}},
		{"feedback_comments": {Updated: []any{map[string]any{"id": "pc1", "feedback_id": "px1", "text": "a longer note", "created_at": clientTime}}}},
		{"feedback": {Deleted: []string{"px2"}}}, // with its attachment
	}
	for i, step := range steps {
		res := f.push(alice, step)
		if len(res.Rejected) != 0 {
			t.Fatalf("step %d rejected %+v", i, res.Rejected)
		}
		along.sync()
		bobs.sync()
	}
	sameAsFirstSync(t, f, along)
	for _, table := range feedbackTables {
		if n := len(bobs.records[table]); n != 0 {
			t.Errorf("bob's device holds %d records of %s", n, table)
		}
	}
	if r := along.get("feedback", "px0"); r == nil || r["text"] != "edited twice" {
		t.Errorf("px0 on the device: %v", r)
	}
	if along.get("feedback", "px3") != nil || along.get("feedback", "px2") != nil || along.get("feedback_attachments", "pa1") != nil {
		t.Errorf("deleted records left on the device: %v", along.records)
	}
	if c := along.get("feedback_comments", "pc1"); c == nil || c["text"] != "a longer note" {
		t.Errorf("pc1 on the device: %v", c)
	}
}

// TestOpsChangesArePulledByID: ops' changes (status, reply), a me-too and a finished upload
// name the records they write, so a device's next pull reads just those by id, as after its
// own pushes, instead of querying each table by cursor (a read of the whole collection on
// FerretDB). The database's slow-command log (every command, here) shows which queries a pull
// sent; a device that synced along must still equal a fresh first sync.
func TestOpsChangesArePulledByID(t *testing.T) {
	ctx := context.Background()
	var logged testenv.LogBuffer
	db, err := mongodb.OpenWith(ctx, testenv.MongoURI(t), testenv.RandomName("t_"), false,
		mongodb.Options{SlowCommand: 1, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.DB.Drop(context.Background())
		_ = db.Close(context.Background())
	})
	f := newFixtureOn(t, db, nil)
	along := f.device(alice)
	along.sync()
	f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("oc1", "one"), newRecord("oc2", "two")}}})
	along.sync()

	steps := []struct {
		name string
		do   func() error
	}{
		{"status", func() error {
			_, err := f.svc.Update(ctx, olga, "oc1", Update{Status: ptr(StatusAcknowledged)})
			return err
		}},
		{"reply", func() error { _, err := f.svc.Reply(ctx, olga, "oc1", "we are on it"); return err }},
		{"me too", func() error { _, err := f.svc.MeToo(ctx, olga, "oc2", true); return err }},
		{"resolution", func() error {
			_, err := f.svc.Update(ctx, olga, "oc2", Update{Resolution: ptr("fixed in 2.1")})
			return err
		}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		logged.Reset()
		along.sync()
		for _, line := range strings.Split(logged.String(), "\n") {
			if strings.Contains(line, "command=find") && strings.Contains(line, "collection=feedback") && strings.Contains(line, "$or") {
				t.Errorf("after %s the pull queried by cursor: %s", step.name, line)
			}
		}
	}
	sameAsFirstSync(t, f, along)
	if r := along.get("feedback", "oc1"); r == nil || r["status"] != StatusAcknowledged {
		t.Errorf("oc1 on the device: %v", r)
	}
	if n := len(along.records["feedback_comments"]); n != 1 {
		t.Errorf("the device holds %d comments, want the reply", n)
	}
}

var feedbackTables = []string{"feedback", "feedback_comments", "feedback_attachments"}

// sameAsFirstSync checks that along, a device that synced along, holds exactly what a new device
// of its user gets on a first sync.
func sameAsFirstSync(t *testing.T, f *fixture, along *device) {
	t.Helper()
	fresh := f.device(along.p)
	fresh.sync()
	for _, table := range feedbackTables {
		if got, want := along.records[table], fresh.records[table]; !maps.EqualFunc(got, want, func(a, b map[string]any) bool {
			return fmt.Sprint(a) == fmt.Sprint(b)
		}) {
			t.Errorf("%s: the device that synced along holds\n%v\nthe new device\n%v", table, got, want)
		}
	}
}
