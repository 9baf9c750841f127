package updates_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

// offeredBuild is the build the view offers an Android device on build 1, or 0.
func offeredBuild(t *testing.T, v *updates.View) int64 {
	t.Helper()
	snap, err := v.Current(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := snap.Check(user("u1"), updates.Query{AppID: appID, Platform: android, Build: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Build == nil {
		return 0
	}
	return res.Build.Build
}

// loadedView saves build 100, completed on stable, under token to a fresh catalog and returns
// the catalog, the fixture and a View that has loaded it.
func loadedView(t *testing.T, token string) (*releases, *fixture, *updates.View) {
	t.Helper()
	rel := &releases{}
	f := newFixture().release("stable", android, 100, rollout.Completed, 100)
	f.save(t, rel, token)
	v := &updates.View{Releases: rel}
	if offeredBuild(t, v) != 100 {
		t.Fatal("the first load does not offer build 100")
	}
	return rel, f, v
}

// Two Views over one catalog are two server instances: each must notice the other's writes
// through the generation token, and only then.
func TestViewsReloadWhenTheGenerationChanges(t *testing.T) {
	rel, f, a := loadedView(t, "t1")
	b := &updates.View{Releases: rel}
	if offeredBuild(t, b) != 100 {
		t.Fatal("the first load does not offer build 100")
	}

	f.release("stable", android, 110, rollout.Completed, 100)
	f.save(t, rel, "t1") // data changed, token not (yet)
	if err := a.Poll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := offeredBuild(t, a); got != 100 {
		t.Fatalf("a poll without a new token reloaded: offers %d", got)
	}

	f.save(t, rel, "t2")
	if got := offeredBuild(t, b); got != 100 {
		t.Fatalf("a view changed before it polled: offers %d", got)
	}
	for _, v := range []*updates.View{a, b} {
		if err := v.Poll(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if got := offeredBuild(t, v); got != 110 {
			t.Fatalf("after a poll with a new token the view offers %d, want 110", got)
		}
	}
	if snap, _ := a.Current(ctx(t)); snap.Token() != "t2" {
		t.Fatalf("token %q, want t2", snap.Token())
	}
}

// A change whose token write failed (the write itself succeeded) reaches the other instances
// within MaxAge: before, they offered the old catalog (a halted build, say) until some other
// write changed the token.
func TestViewsReloadAtMaxAgeWithoutANewToken(t *testing.T) {
	rel, f, _ := loadedView(t, "t1")
	v := &updates.View{Releases: rel, MaxAge: time.Hour}
	if offeredBuild(t, v) != 100 {
		t.Fatal("the first load does not offer build 100")
	}
	f.release("stable", android, 110, rollout.Completed, 100)
	f.save(t, rel, "t1") // the write landed, its token did not
	if err := v.Poll(ctx(t)); err != nil || offeredBuild(t, v) != 100 {
		t.Fatalf("reloaded before MaxAge without a new token (%v)", err)
	}
	v.MaxAge = time.Nanosecond
	if err := v.Poll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := offeredBuild(t, v); got != 110 {
		t.Fatalf("after MaxAge the view offers %d, want 110", got)
	}
}

func TestViewChangedReloadsAtOnce(t *testing.T) {
	rel, f, v := loadedView(t, "t1")
	f.release("stable", android, 120, rollout.Completed, 100)
	f.save(t, rel, "t2")
	v.Changed()
	if got := offeredBuild(t, v); got != 120 {
		t.Fatalf("after Changed the view offers %d, want 120", got)
	}
}

// Readers keep answering from whole snapshots while reloads swap them (run with -race).
func TestViewServesChecksDuringReloads(t *testing.T) {
	rel, f, v := loadedView(t, "t1")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if got := offeredBuild(t, v); got != 100 && got != 110 {
					t.Errorf("a check during a reload offered %d", got)
					return
				}
			}
		})
	}
	f.release("stable", android, 110, rollout.Completed, 100)
	f.save(t, rel, "t2")
	for range 5 {
		if err := v.Reload(ctx(t)); err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if got := offeredBuild(t, v); got != 110 {
		t.Fatalf("after the reloads the view offers %d, want 110", got)
	}
}

// Writers that call Changed at once (coalesced into fewer reloads) each see their own write.
func TestViewChangedShowsEveryConcurrentWriterItsWrite(t *testing.T) {
	rel, _, v := loadedView(t, "t0")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			n := int64(200 + i)
			g := newFixture().release("stable", android, n, rollout.Completed, 100)
			// Each writer publishes on its own custom channel, so the writes do not overwrite each other.
			g.d.Tracks[0].ID, g.d.Tracks[0].Channel = fmt.Sprintf("%s/android/w%d", appID, i), fmt.Sprintf("w%d", i)
			g.d.Channels = append(g.d.Channels[:0], g.d.Channels[0])
			g.d.Channels[0].ID, g.d.Channels[0].Name, g.d.Channels[0].Kind = fmt.Sprintf("%s/w%d", appID, i), fmt.Sprintf("w%d", i), "custom"
			g.d.Channels[0].Roles = []string{"employee"}
			g.d.Members = nil
			g.save(t, rel, fmt.Sprintf("w%d", i))
			v.Changed()
			snap, err := v.Current(ctx(t))
			if err != nil {
				t.Error(err)
				return
			}
			res, err := snap.Check(user("u1"), updates.Query{AppID: appID, Platform: android, Build: 1, Channel: fmt.Sprintf("w%d", i)})
			if err != nil || res.Build == nil || res.Build.Build != n {
				t.Errorf("writer %d does not see its build after Changed: %+v, %v", i, res.Build, err)
			}
		})
	}
	wg.Wait()
}
