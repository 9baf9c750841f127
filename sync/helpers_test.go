package datasync

import (
	"bytes"
	"context"
	"encoding/json"
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

// pull runs a pull and decodes it, failing the test on an error or on an id sent twice.
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
	for name, tab := range r.Changes {
		seen := map[string]bool{}
		for _, list := range [][]map[string]any{tab.Created, tab.Updated} {
			for _, rec := range list {
				id, _ := rec["id"].(string)
				if seen[id] {
					t.Fatalf("pull sent %s/%s twice", name, id)
				}
				seen[id] = true
			}
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
}

func newDevice() *device { return &device{tables: map[string]map[string]map[string]any{}} }

// sync pulls and applies the response as WatermelonDB would.
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
		for _, rec := range append(append([]map[string]any{}, tab.Created...), tab.Updated...) {
			local[rec["id"].(string)] = rec
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
