package announce

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

func TestCreateOnce(t *testing.T) {
	db := testenv.Mongo(t)
	pusher := &countingPusher{}
	now := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	// Several instances on one database, as behind a load balancer.
	instances := make([]*Service, 3)
	for i := range instances {
		instances[i] = &Service{DB: db, Push: pusher, Members: staticMembers{}, Now: clock}
	}
	ctx := context.Background()
	input := func(title string) Input {
		return Input{Title: ptr(title), Body: ptr("Read me."), Audience: &Audience{All: true}}
	}
	count := func(t *testing.T, title string) int64 {
		t.Helper()
		n, err := db.Collection(announcementsColl).CountDocuments(ctx, bson.D{{Key: "title", Value: title}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("a replay returns the same announcement, published and pushed once", func(t *testing.T) {
		first, err := instances[0].CreateOnce(ctx, opsUser, "k-replay", input("Replayed"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := instances[1].CreateOnce(ctx, opsUser, "k-replay", input("Replayed"))
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID || again.Status != StatusPublished {
			t.Fatalf("replay gave %s (%s), first %s", again.ID, again.Status, first.ID)
		}
		if n := count(t, "Replayed"); n != 1 {
			t.Fatalf("%d announcements stored", n)
		}
		if n := pusher.count("announcement:" + first.ID + ":publish"); n != 1 {
			t.Fatalf("pushed %d times", n)
		}
	})
	t.Run("rejects the same key with a different body", func(t *testing.T) {
		if _, err := instances[0].CreateOnce(ctx, opsUser, "k-reused", input("One")); err != nil {
			t.Fatal(err)
		}
		_, err := instances[2].CreateOnce(ctx, opsUser, "k-reused", input("Another"))
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.IdempotencyKeyReused || e.Field != "Idempotency-Key" {
			t.Fatalf("got %v", err)
		}
		if n := count(t, "Another"); n != 0 {
			t.Fatalf("%d announcements stored", n)
		}
	})
	t.Run("keys belong to their author", func(t *testing.T) {
		other := &auth.Principal{UserID: "ops2", Roles: []auth.Role{auth.RoleOps}}
		a, err := instances[0].CreateOnce(ctx, opsUser, "k-shared", input("Mine"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := instances[0].CreateOnce(ctx, other, "k-shared", input("Theirs"))
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == b.ID {
			t.Fatal("two authors' keys collided")
		}
	})
	t.Run("rejects a key that is not printable ASCII or too long", func(t *testing.T) {
		for _, key := range []string{"tab\there", "é", string(make([]byte, MaxIdempotencyKey+1))} {
			_, err := instances[0].CreateOnce(ctx, opsUser, key, input("Bad key"))
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "Idempotency-Key" {
				t.Fatalf("key %q: %v", key, err)
			}
		}
	})
	t.Run("does not claim the key for invalid input", func(t *testing.T) {
		bad := Input{Title: ptr("No audience"), Body: ptr("x")}
		if _, err := instances[0].CreateOnce(ctx, opsUser, "k-invalid", bad); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("got %v", err)
		}
		if _, err := instances[0].CreateOnce(ctx, opsUser, "k-invalid", input("Fixed")); err != nil {
			t.Fatalf("the corrected request with the key: %v", err)
		}
	})
	t.Run("a replay finishes a create that died after claiming its key", func(t *testing.T) {
		// The first call claimed the key and died (kill -9) before storing the announcement.
		in := input("Half done")
		fp, err := fingerprint(in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Collection(idempotencyColl).InsertOne(ctx, keyClaim{ID: opsUser.UserID + "/k-died",
			Author: opsUser.UserID, Key: "k-died", Fingerprint: fp, AnnouncementID: "a-died", CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		a, err := instances[1].CreateOnce(ctx, opsUser, "k-died", in)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != "a-died" || a.Status != StatusPublished || pusher.count("announcement:a-died:publish") != 1 {
			t.Fatalf("got %s (%s), pushed %d", a.ID, a.Status, pusher.count("announcement:a-died:publish"))
		}
	})
	t.Run("concurrent replays across instances create and push exactly one", func(t *testing.T) {
		ids := make(chan string, 24)
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				a, err := instances[i%len(instances)].CreateOnce(ctx, opsUser, "k-race", input("Raced"))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- a.ID
			})
		}
		wg.Wait()
		close(ids)
		seen := map[string]int{}
		for id := range ids {
			seen[id]++
		}
		if len(seen) != 1 {
			t.Fatalf("replays answered with %d ids: %v", len(seen), seen)
		}
		if n := count(t, "Raced"); n != 1 {
			t.Fatalf("%d announcements stored", n)
		}
		for id := range seen {
			if n := pusher.count("announcement:" + id + ":publish"); n != 1 {
				t.Fatalf("pushed %d times", n)
			}
		}
	})
}
