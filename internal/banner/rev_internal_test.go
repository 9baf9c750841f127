package banner

import (
	"bytes"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

// An update is written only over the revision it read: on MongoDB (DB.Lock spans one process),
// an update on another instance that read the banner before this one's write would otherwise
// replace it whole with its stale copy (a banner meant to end early stays live).
func TestAnUpdateIsWrittenOverTheRevisionItRead(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	store := testenv.Store(t, "b")
	png := []byte("\x89PNG\r\n\x1a\nbanner")
	if _, err := store.Put(t.Context(), media.Images, "banners/a.png", bytes.NewReader(png), int64(len(png)), "image/png"); err != nil {
		t.Fatal(err)
	}
	s := &Service{DB: testenv.Mongo(t), Images: store, Now: func() time.Time { return start }}
	ops := &auth.Principal{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}}
	b, err := s.Create(t.Context(), ops, Input{Title: "Hello", ImageKey: "banners/a.png", StartsAt: start, EndsAt: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() Banner {
		var got Banner
		if err := s.coll().FindOne(t.Context(), bson.D{{Key: "_id", Value: b.ID}}).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	first, stale := stored(), stored()
	first.Title = "First"
	if ok, err := s.replace(t.Context(), &first, first.Rev); err != nil || !ok {
		t.Fatalf("the first writer: %v %v", ok, err)
	}
	stale.EndsAt = start.Add(2 * time.Hour)
	if ok, err := s.replace(t.Context(), &stale, stale.Rev); err != nil || ok {
		t.Fatalf("a writer that read before the first: %v %v, want refused", ok, err)
	}
	if got := stored(); got.Title != "First" || !got.EndsAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("stored %q ending %v, want the first writer's", got.Title, got.EndsAt)
	}
	// Update reads again: both changes stay.
	ends := start.Add(30 * time.Minute)
	if _, err := s.Update(t.Context(), ops, b.ID, Patch{EndsAt: &ends}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got.Title != "First" || !got.EndsAt.Equal(ends) {
		t.Fatalf("stored %q ending %v, want both changes", got.Title, got.EndsAt)
	}
}
