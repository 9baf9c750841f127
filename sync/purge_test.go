package datasync

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

func TestTombstones(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC))
	e, notes := newEngine(t, clock)
	ctx := context.Background()
	if err := notes.write(ctx, e, note("n1", "alice", "", "doomed"), nil); err != nil {
		t.Fatal(err)
	}
	if err := notes.write(ctx, e, note("n2", "alice", "", "kept"), nil); err != nil {
		t.Fatal(err)
	}
	alice := employee("alice")
	opsUser := &auth.Principal{UserID: "olga", Roles: []auth.Role{auth.RoleOps}}
	phone, tablet, console, stale := newDevice(), newDevice(), newDevice(), newDevice()
	for _, d := range []*device{phone, tablet, stale} {
		d.sync(t, e, alice)
	}
	console.sync(t, e, opsUser)

	t.Run("a delete reaches every device that saw the record", func(t *testing.T) {
		if err := notes.write(ctx, e, Record{ID: "n1", Delete: true}, nil); err != nil {
			t.Fatal(err)
		}
		for name, d := range map[string]*device{"phone": phone, "tablet": tablet} {
			if r := d.sync(t, e, alice); !slices.Equal(r.Changes["notes"].Deleted, []string{"n1"}) {
				t.Errorf("%s got %+v", name, r.Changes["notes"])
			}
		}
		if r := console.sync(t, e, opsUser); !slices.Equal(r.Changes["notes"].Deleted, []string{"n1"}) {
			t.Errorf("ops got %+v", r.Changes["notes"])
		}
	})
	t.Run("purging keeps what is younger than the horizon", func(t *testing.T) {
		e.changeLog.wait() // the change log is written in the background on the embedded database
		if err := e.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := notes.db.Collection("notes").CountDocuments(ctx, bson.D{{Key: "_deleted", Value: true}}); n != 1 {
			t.Fatalf("%d tombstones left, want 1", n)
		}
	})
	t.Run("a device whose cursor is older than the horizon gets a full resync", func(t *testing.T) {
		clock.Advance(DefaultHorizon + time.Hour)
		if err := notes.write(ctx, e, note("n3", "alice", "", "recent"), nil); err != nil {
			t.Fatal(err)
		}
		e.changeLog.wait() // the change log is written in the background on the embedded database
		if err := e.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := notes.db.Collection("notes").CountDocuments(ctx, bson.D{{Key: "_deleted", Value: true}}); n != 0 {
			t.Fatalf("%d tombstones left after the horizon", n)
		}
		r := stale.sync(t, e, alice)
		got := ids(r.Changes["notes"].Updated)
		slices.Sort(got)
		if !r.FullResync || !slices.Equal(got, []string{"n2", "n3"}) {
			t.Fatalf("stale device got %+v", r)
		}
		if diff := stale.texts(); len(diff) != 2 || diff["n1"] != "" {
			t.Fatalf("stale device holds %v", diff)
		}
	})
	t.Run("a device that kept up pulls incrementally", func(t *testing.T) {
		r := phone.sync(t, e, alice)
		if r.FullResync || !slices.Equal(ids(r.Changes["notes"].Updated), []string{"n3"}) {
			t.Fatalf("phone got %+v", r)
		}
	})
	t.Run("the horizon survives a restart", func(t *testing.T) {
		restarted := &Engine{DB: e.DB, Now: e.Now}
		restarted.Register(notes)
		if err := restarted.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if r := pull(t, restarted, alice, 1); !r.FullResync {
			t.Fatalf("an old cursor after a restart: %+v", r)
		}
	})
}
