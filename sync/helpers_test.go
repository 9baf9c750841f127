package datasync

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// newEngine starts an engine with the notes table on a fresh database.
func newEngine(t testing.TB, clock *testenv.Clock) (*Engine, *notesTable) {
	t.Helper()
	db := testenv.Mongo(t)
	if clock == nil {
		clock = testenv.NewClock(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	}
	notes := &notesTable{db: db, now: clock.Now}
	e := &Engine{DB: db, Now: clock.Now}
	e.Register(notes)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, notes
}

func employee(id string) *auth.Principal {
	return &auth.Principal{UserID: id, Roles: []auth.Role{auth.RoleEmployee}}
}

type pulledTable struct {
	Created []map[string]any `json:"created"`
	Updated []map[string]any `json:"updated"`
	Deleted []string         `json:"deleted"`
}

type pullResponse struct {
	Changes    map[string]pulledTable `json:"changes"`
	Timestamp  int64                  `json:"timestamp"`
	FullResync bool                   `json:"full_resync"`
}

// pull runs a pull and decodes it, failing the test on an error, a timestamp that WatermelonDB's
// synchronize() refuses (not a positive safe integer), a record sent as created (every live
// record must come in updated) or an id sent twice.
func pull(t testing.TB, e *Engine, p *auth.Principal, since int64) pullResponse {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Pull(context.Background(), p, since, &buf); err != nil {
		t.Fatalf("pull: %v", err)
	}
	var r pullResponse
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("pull response is not JSON: %v\n%s", err, buf.String())
	}
	if r.Timestamp < 1 || r.Timestamp > 1<<53-1 {
		t.Fatalf("pull answered timestamp %d, want a positive safe integer", r.Timestamp)
	}
	for name, tab := range r.Changes {
		if tab.Created == nil || tab.Updated == nil || tab.Deleted == nil {
			t.Fatalf("table %s lacks one of its three arrays: %s", name, buf.String())
		}
		if len(tab.Created) != 0 {
			t.Fatalf("pull sent %d records of %s as created, want every live record in updated", len(tab.Created), name)
		}
		seen := map[string]bool{}
		for _, rec := range tab.Updated {
			id, _ := rec["id"].(string)
			if seen[id] {
				t.Fatalf("pull sent %s/%s twice", name, id)
			}
			seen[id] = true
		}
		for _, id := range tab.Deleted {
			if seen[id] {
				t.Fatalf("pull sent %s/%s twice", name, id)
			}
			seen[id] = true
		}
	}
	return r
}

// device is a client's local copy of the synced tables.
type device struct {
	cursor int64
	tables map[string]map[string]map[string]any
	// deleted are the ids the user deleted locally and the device has not pushed yet, per table
	// (WatermelonDB keeps them as records marked deleted).
	deleted map[string]map[string]bool
}

func newDevice() *device {
	return &device{tables: map[string]map[string]map[string]any{}, deleted: map[string]map[string]bool{}}
}

// deleteLocally deletes a record on the device only, until the next push.
func (d *device) deleteLocally(table, id string) {
	delete(d.tables[table], id)
	if d.deleted[table] == nil {
		d.deleted[table] = map[string]bool{}
	}
	d.deleted[table][id] = true
}

// pushDeletes pushes the local deletions of table from the device's cursor, as synchronize()
// does after its pull.
func (d *device) pushDeletes(t testing.TB, e *Engine, p *auth.Principal, table string) *PushResult {
	t.Helper()
	ids := []string{}
	for id := range d.deleted[table] {
		ids = append(ids, id)
	}
	body, err := json.Marshal(map[string]any{"changes": map[string]any{table: map[string]any{
		"created": []any{}, "updated": []any{}, "deleted": ids}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Push(context.Background(), p, d.cursor, body)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	delete(d.deleted, table)
	return res
}

// sync pulls and applies the response as WatermelonDB with sendCreatedAsUpdated would (pull
// has checked that created is empty).
func (d *device) sync(t testing.TB, e *Engine, p *auth.Principal) pullResponse {
	t.Helper()
	r := pull(t, e, p, d.cursor)
	if r.FullResync {
		d.tables = map[string]map[string]map[string]any{}
	}
	for name, tab := range r.Changes {
		local := d.tables[name]
		if local == nil {
			local = map[string]map[string]any{}
			d.tables[name] = local
		}
		for _, rec := range tab.Updated {
			id := rec["id"].(string)
			if d.deleted[name][id] {
				continue // deleted locally: the delete is pushed next (WatermelonDB's applyRemote)
			}
			local[id] = rec
		}
		for _, id := range tab.Deleted {
			delete(local, id)
		}
	}
	d.cursor = r.Timestamp
	return r
}

// texts returns the device's notes as id -> text.
func (d *device) texts() map[string]string {
	out := map[string]string{}
	for id, rec := range d.tables["notes"] {
		out[id], _ = rec["text"].(string)
	}
	return out
}

// pullWhile gives each puller a device that syncs over and over until wait returns, then waits
// for the devices' last pulls to end, and returns them.
func pullWhile(t testing.TB, e *Engine, pullers []*auth.Principal, wait func()) []*device {
	done := make(chan struct{})
	devices := make([]*device, len(pullers))
	var pw sync.WaitGroup
	for i, p := range pullers {
		devices[i] = newDevice()
		pw.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					devices[i].sync(t, e, p)
				}
			}
		})
	}
	wait()
	close(done)
	pw.Wait()
	return devices
}
