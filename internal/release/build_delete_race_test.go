package release

import (
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
	"github.com/mportal/mportal/internal/release/rollout"
)

// A publish that lands while its build is being deleted takes its release back: a track must
// never offer a deleted build. Before, a publish between the deletion's read of the tracks and
// its delete left an active release of a build that no longer existed.
func TestPublishOfABuildBeingDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	b := f.fakeBuild(t, "portal", Android, 40)
	beta := PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: 100}

	t.Run("a live deletion mark refuses the publish", func(t *testing.T) {
		if err := f.svc.markDeleting(ctx, b); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Publish(ctx, opsUser, "portal", beta)
		wantCode(t, err, apperr.Conflict)
		tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range tracks {
			if len(tr.Releases) != 0 {
				t.Fatalf("the release stayed on %s: %+v", tr.Channel, tr.Releases)
			}
		}
	})
	t.Run("a mark older than its TTL does not", func(t *testing.T) {
		if _, err := f.svc.coll(metaColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: deletingID(b.ID)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().Add(-deletingTTL - time.Second)}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Publish(ctx, opsUser, "portal", beta); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a deletion removes its mark", func(t *testing.T) {
		wantCode(t, f.svc.DeleteBuild(ctx, opsUser, "portal", b.PublicID), apperr.Conflict)
		n, err := f.svc.coll(metaColl).CountDocuments(ctx, bson.D{{Key: "_id", Value: deletingID(b.ID)}})
		if err != nil || n != 0 {
			t.Fatalf("%d marks left (%v)", n, err)
		}
	})
}

// Publishes and deletions of the same builds, concurrently: afterwards no track has a release
// that is not halted of a build that is gone.
func TestPublishAndDeleteBuildConcurrently(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	for i := range 12 {
		b := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: int64(100 + i)}.Bytes(t))
		var wg sync.WaitGroup
		for _, ch := range []string{"beta", "stable"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: ch, BuildID: b.PublicID, Percent: 10})
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.svc.DeleteBuild(ctx, opsUser, "portal", b.PublicID)
		}()
		wg.Wait()
	}
	tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range tracks {
		for _, r := range tr.Releases {
			if r.State == rollout.Halted {
				continue
			}
			if _, err := f.svc.build(ctx, "portal", r.BuildID); err != nil {
				t.Errorf("%s offers build %s: %v", tr.Channel, r.BuildID, err)
			}
		}
	}
}
