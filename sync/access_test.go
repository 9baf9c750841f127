package datasync

import (
	"context"
	"slices"
	"testing"
)

func TestGrantsArriveAsLiveRecordsAndRevokesAsDeleted(t *testing.T) {
	e, notes := newEngine(t, nil)
	ctx := context.Background()
	for _, r := range []Record{note("s1", "bob", "beta", "shared 1"), note("s2", "bob", "beta", "shared 2"),
		note("p1", "bob", "", "private"), note("t1", "tina", "", "tina's own")} {
		if err := notes.write(ctx, e, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	tina := employee("tina")
	dev := newDevice()
	dev.sync(t, e, tina)
	beta := ChannelKey("app", "beta")

	t.Run("a grant sends everything the key shows", func(t *testing.T) {
		if err := e.Grant(ctx, "tina", beta); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, e, tina)
		got := ids(r.Changes["notes"].Updated)
		slices.Sort(got)
		if !slices.Equal(got, []string{"s1", "s2"}) {
			t.Fatalf("updated %v", got)
		}
	})
	t.Run("granting again sends nothing", func(t *testing.T) {
		if err := e.Grant(ctx, "tina", beta); err != nil {
			t.Fatal(err)
		}
		if r := dev.sync(t, e, tina); len(r.Changes["notes"].Updated) != 0 {
			t.Fatalf("changes %+v", r.Changes["notes"])
		}
	})
	t.Run("a record moving out of the key is deleted for its holders", func(t *testing.T) {
		if err := notes.write(ctx, e, note("s2", "bob", "", "now private"), nil); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, e, tina)
		if !slices.Equal(r.Changes["notes"].Deleted, []string{"s2"}) {
			t.Fatalf("changes %+v", r.Changes["notes"])
		}
	})
	t.Run("a revoke deletes what only the key showed and keeps the rest", func(t *testing.T) {
		if err := e.Revoke(ctx, "tina", beta); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, e, tina)
		if del := r.Changes["notes"].Deleted; !slices.Contains(del, "s1") || slices.Contains(del, "t1") {
			t.Fatalf("changes %+v", r.Changes["notes"])
		}
		if got := dev.texts(); len(got) != 1 || got["t1"] != "tina's own" {
			t.Fatalf("device %v", got)
		}
	})
	t.Run("grants survive a restart", func(t *testing.T) {
		if err := e.Grant(ctx, "tina", beta); err != nil {
			t.Fatal(err)
		}
		restarted := &Engine{DB: e.DB, Now: e.Now}
		restarted.Register(notes)
		if err := restarted.Start(ctx); err != nil {
			t.Fatal(err)
		}
		r := pull(t, restarted, tina, 0)
		if len(r.Changes["notes"].Updated) != 2 {
			t.Fatalf("after a restart tina sees %v", ids(r.Changes["notes"].Updated))
		}
	})
	t.Run("refuses an empty key", func(t *testing.T) {
		if err := e.Grant(ctx, "tina", ""); err == nil {
			t.Fatal("an empty key was granted")
		}
	})
}
