package datasync

import (
	"context"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/mongodb"
)

// TestSecondInstanceCatchesUp runs two engines on one database as two server instances on
// MongoDB would (Embedded false): one writes, the other serves the pulls from what it reads in
// the change log.
func TestSecondInstanceCatchesUp(t *testing.T) {
	writer, notes := newEngine(t, nil)
	shared := &mongodb.DB{Client: writer.DB.Client, DB: writer.DB.DB}
	writer.DB = shared
	reader := &Engine{DB: shared, Now: writer.Now}
	reader.Register(notes)
	ctx := context.Background()
	if err := reader.Start(ctx); err != nil {
		t.Fatal(err)
	}
	alice := employee("alice")
	dev := newDevice()
	dev.sync(t, reader, alice)

	t.Run("sees the other instance's writes", func(t *testing.T) {
		if err := notes.write(ctx, writer, note("n1", "alice", "", "from the writer"), nil); err != nil {
			t.Fatal(err)
		}
		r := dev.sync(t, reader, alice)
		if !slices.Equal(ids(r.Changes["notes"].Updated), []string{"n1"}) {
			t.Fatalf("pull %+v", r.Changes["notes"])
		}
	})
	t.Run("sees the other instance's grants", func(t *testing.T) {
		if err := notes.write(ctx, writer, note("s1", "bob", "beta", "shared"), nil); err != nil {
			t.Fatal(err)
		}
		if r := dev.sync(t, reader, alice); len(r.Changes["notes"].Updated) != 0 {
			t.Fatalf("pull before the grant %+v", r.Changes["notes"])
		}
		if err := writer.Grant(ctx, "alice", ChannelKey("app", "beta")); err != nil {
			t.Fatal(err)
		}
		if r := dev.sync(t, reader, alice); !slices.Equal(ids(r.Changes["notes"].Updated), []string{"s1"}) {
			t.Fatalf("pull after the grant %+v", r.Changes["notes"])
		}
	})
}
