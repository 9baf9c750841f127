package feedback

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The loop numbers are reused while they are younger than loopMemoTTL and this process wrote
// nothing since; a write of another instance (here: straight to the collection, with the
// in-memory copy off as on MongoDB) shows once the TTL has passed on the service clock.
func TestLoopMemo(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.svc.cache.mu.Lock()
	f.svc.cache.on = false
	f.svc.cache.mu.Unlock()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		newRecord("m1", "Crash on login"), newRecord("m2", "Slow sync"),
	}}}), 2)
	day := f.clock.Now().UTC().Format(time.DateOnly)
	open := func() (int, int) {
		t.Helper()
		got, err := f.svc.Loop(ctx, olga, day, day)
		if err != nil {
			t.Fatal(err)
		}
		top := 0
		if len(got.TopMeToo) > 0 {
			top = got.TopMeToo[0].MeTooCount
		}
		return got.Open, top
	}
	if n, _ := open(); n != 2 {
		t.Fatalf("open %d, want 2", n)
	}

	t.Run("a write of this process shows at once", func(t *testing.T) {
		if _, err := f.svc.MeToo(ctx, olga, "m1", true); err != nil {
			t.Fatal(err)
		}
		if _, top := open(); top != 1 {
			t.Errorf("top me-too count %d right after the me-too, want 1", top)
		}
		if _, err := f.svc.Update(ctx, olga, "m2", Update{Status: ptr(StatusResolved)}); err != nil {
			t.Fatal(err)
		}
		if n, _ := open(); n != 1 {
			t.Errorf("open %d right after resolving one, want 1", n)
		}
	})
	t.Run("another instance's write shows after the TTL", func(t *testing.T) {
		if _, err := f.svc.coll(feedbackColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: "m1"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: StatusWontFix}}}}); err != nil {
			t.Fatal(err)
		}
		if n, _ := open(); n != 1 {
			t.Errorf("open %d within the TTL, want the remembered 1", n)
		}
		f.clock.Advance(loopMemoTTL)
		if n, _ := open(); n != 0 {
			t.Errorf("open %d after the TTL, want 0", n)
		}
	})
}
