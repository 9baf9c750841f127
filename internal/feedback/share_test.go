package feedback

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

func TestSharedFeedback(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	betaKey := datasync.ChannelKey("com.example.portal", "beta")
	if err := f.engine.Grant(ctx, "alice", betaKey); err != nil { // alice tests beta too
		t.Fatal(err)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		with(newRecord("shared", "login button overlaps"), "share_with_testers", true),
		newRecord("private", "my own"),
	}}}), 2)
	tessPhone := f.device(tess)

	t.Run("testers see nothing before they are granted the channel", func(t *testing.T) {
		tessPhone.sync()
		if len(tessPhone.records["feedback"]) != 0 {
			t.Fatalf("tess sees %v", tessPhone.records["feedback"])
		}
		if _, err := f.svc.Get(ctx, tess, "shared"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Get = %v, want not_found", err)
		}
	})
	t.Run("a grant brings the shared feedback, and only it", func(t *testing.T) {
		if err := f.engine.Grant(ctx, "tess", betaKey); err != nil {
			t.Fatal(err)
		}
		tessPhone.sync()
		if len(tessPhone.records["feedback"]) != 1 || tessPhone.get("feedback", "shared") == nil {
			t.Fatalf("tess sees %v", tessPhone.records["feedback"])
		}
		if _, err := f.svc.Get(ctx, tess, "shared"); err != nil {
			t.Fatal(err)
		}
		mine, _, err := f.svc.Mine(ctx, tess, 0, "")
		if err != nil || len(mine) != 1 || mine[0].ID != "shared" {
			t.Fatalf("Mine = %v, %v", mine, err)
		}
		if _, err := f.svc.Get(ctx, tess, "private"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("private feedback: %v", err)
		}
	})
	t.Run("testers do not see where it was written; its author and ops do", func(t *testing.T) {
		// Before, every tester of the channel pulled the author's exact coordinates.
		if r := tessPhone.get("feedback", "shared"); r["latitude"] != nil || r["longitude"] != nil || r["accuracy_m"] != nil {
			t.Fatalf("tess pulled the location: %v", r)
		}
		if fb, err := f.svc.Get(ctx, tess, "shared"); err != nil || fb.Location != nil {
			t.Fatalf("Get by tess: %+v, %v", fb, err)
		}
		for _, p := range []*auth.Principal{alice, olga} {
			if fb, err := f.svc.Get(ctx, p, "shared"); err != nil || fb.Location == nil || fb.Location.Latitude != 31.23 {
				t.Fatalf("Get by %s: %+v, %v", p.UserID, fb, err)
			}
		}
	})
	t.Run("testers add one me too each, counted from the records", func(t *testing.T) {
		for range 2 {
			fb, err := f.svc.MeToo(ctx, tess, "shared", true)
			if err != nil || fb.MeTooCount != 1 || !fb.MeToo {
				t.Fatalf("MeToo = %+v, %v", fb, err)
			}
		}
		if n := f.count(meTooColl); n != 1 {
			t.Fatalf("%d me-too records", n)
		}
		alicePhone := f.device(alice)
		alicePhone.sync()
		if r := alicePhone.get("feedback", "shared"); r["me_too_count"] != 1.0 || r["me_too"] != false {
			t.Fatalf("author pulled %v", r)
		}
		// The counts survive a restart: they are rebuilt from the records.
		f.svc.counts = counts{}
		if err := f.svc.LoadCounts(ctx); err != nil {
			t.Fatal(err)
		}
		if fb, _ := f.svc.Get(ctx, olga, "shared"); fb.MeTooCount != 1 {
			t.Fatalf("after reload: %d", fb.MeTooCount)
		}
	})
	t.Run("the author cannot me-too their own feedback and others cannot see it", func(t *testing.T) {
		if _, err := f.svc.MeToo(ctx, alice, "shared", true); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("author: %v", err)
		}
		if _, err := f.svc.MeToo(ctx, bob, "shared", true); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("bob: %v", err)
		}
	})
	t.Run("testers comment on shared feedback by push", func(t *testing.T) {
		res := f.push(tess, map[string]changes{"feedback_comments": {Created: []any{
			map[string]any{"id": "c-tess", "feedback_id": "shared", "text": "same on my Galaxy", "created_at": clientTime, "from_ops": true},
			map[string]any{"id": "c-priv", "feedback_id": "private", "text": "peek", "created_at": clientTime},
		}}})
		if res.Accepted != 1 {
			t.Fatalf("result %+v", res)
		}
		wantRejected(t, res, "c-priv", apperr.NotFound)
		alicePhone := f.device(alice)
		alicePhone.sync()
		c := alicePhone.get("feedback_comments", "c-tess")
		if c == nil || c["from_ops"] != false || c["author_name"] != "Tess Tester" {
			t.Fatalf("author pulled comment %v", c)
		}
		if r := alicePhone.get("feedback", "shared"); r["comment_count"] != 1.0 {
			t.Fatalf("comment_count %v", r["comment_count"])
		}
	})
	t.Run("a revoke takes the shared feedback and its comments away", func(t *testing.T) {
		if err := f.engine.Revoke(ctx, "tess", betaKey); err != nil {
			t.Fatal(err)
		}
		tessPhone.sync()
		if len(tessPhone.records["feedback"]) != 0 || len(tessPhone.records["feedback_comments"]) != 0 {
			t.Fatalf("tess still has %v %v", tessPhone.records["feedback"], tessPhone.records["feedback_comments"])
		}
		if _, err := f.svc.Get(ctx, tess, "shared"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Get = %v", err)
		}
	})
}

// TestCachedPullsMatchTheDatabase checks that the in-memory copy serving pulls on the embedded
// database answers exactly what the database query answers, after every kind of write.
func TestCachedPullsMatchTheDatabase(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	betaKey := datasync.ChannelKey("com.example.portal", "beta")
	if err := f.engine.Grant(ctx, "alice", betaKey); err != nil {
		t.Fatal(err)
	}
	var cursors []int64
	step := func(write func()) {
		write()
		cursors = append(cursors, f.pull(alice, 0).Timestamp)
	}
	step(func() {
		f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("k1", "one"),
			with(newRecord("k2", "two"), "share_with_testers", true), newRecord("k3", "three")}}})
	})
	step(func() {
		f.push(alice, map[string]changes{"feedback": {Updated: []any{newRecord("k1", "one, edited")}}})
	})
	step(func() { f.push(alice, map[string]changes{"feedback": {Deleted: []string{"k3"}}}) })
	step(func() {
		if _, err := f.svc.Update(ctx, olga, "k2", Update{Status: ptr(StatusAcknowledged)}); err != nil {
			t.Fatal(err)
		}
	})
	step(func() {
		if err := f.engine.Grant(ctx, "tess", betaKey); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.MeToo(ctx, tess, "k2", true); err != nil {
			t.Fatal(err)
		}
	})
	step(func() {
		if err := f.engine.Revoke(ctx, "tess", betaKey); err != nil {
			t.Fatal(err)
		}
	})
	// Nothing is mutated from here on: read every (user, cursor) both ways.
	for _, p := range []*auth.Principal{alice, tess, bob} {
		for _, since := range append([]int64{0}, cursors...) {
			cached := f.pull(p, since)
			f.svc.cache.mu.Lock()
			f.svc.cache.on = false
			f.svc.cache.mu.Unlock()
			fromDB := f.pull(p, since)
			f.svc.cache.mu.Lock()
			f.svc.cache.on = true
			f.svc.cache.mu.Unlock()
			if diff := cmp.Diff(sorted(fromDB), sorted(cached)); diff != "" {
				t.Errorf("%s since %d: cache differs from the database (-db +cache):\n%s", p.UserID, since, diff)
			}
		}
	}
}

// sorted orders a pull's records by id, for comparison.
func sorted(p pulled) pulled {
	for name, ch := range p.Changes {
		byID := func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) }
		slices.SortFunc(ch.Created, byID)
		slices.SortFunc(ch.Updated, byID)
		slices.Sort(ch.Deleted)
		p.Changes[name] = ch
	}
	return p
}

// catalog maps the package name the test records report to the catalogue id "portal".
type catalog struct{}

func (catalog) CatalogID(_ context.Context, id string) string {
	if id == "com.example.portal" {
		return "portal"
	}
	return id
}

func TestSharedFeedbackReachesTheTestersOfTheCatalogueApp(t *testing.T) {
	// Apps report their package name (as in their device check-in); channel membership, and so
	// the testers' grants, use the catalogue id.
	f := newFixture(t, nil)
	f.svc.Apps = catalog{}
	ctx := context.Background()
	if err := f.engine.Grant(ctx, "alice", datasync.ChannelKey("portal", "beta")); err != nil {
		t.Fatal(err)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{
		with(newRecord("shared", "login button overlaps"), "share_with_testers", true),
	}}}), 1)
	if err := f.engine.Grant(ctx, "tess", datasync.ChannelKey("portal", "beta")); err != nil {
		t.Fatal(err)
	}
	tessPhone := f.device(tess)
	tessPhone.sync()
	rec := tessPhone.get("feedback", "shared")
	if rec == nil {
		t.Fatalf("the beta tester of portal does not see the shared feedback: %v", tessPhone.records["feedback"])
	}
	if rec["app_id"] != "portal" {
		t.Fatalf("app_id = %v, want the catalogue id portal", rec["app_id"])
	}
}

func TestSharingTakesMembershipOfTheChannel(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	betaKey := datasync.ChannelKey("com.example.portal", "beta")
	for _, user := range []string{"tess", "alice"} { // members of beta; bob is not
		if err := f.engine.Grant(ctx, user, betaKey); err != nil {
			t.Fatal(err)
		}
	}
	tessPhone := f.device(tess)

	t.Run("a non-member's shared feedback is rejected, not stored, and never reaches the testers", func(t *testing.T) {
		shared := with(newRecord("bob-share", "look at this, testers"), "share_with_testers", true)
		res := f.push(bob, map[string]changes{"feedback": {Created: []any{shared}}})
		f.wantRejectedField(res, "bob", "bob-share", apperr.Forbidden, "share_with_testers")
		res = f.push(bob, map[string]changes{"feedback": {Updated: []any{shared}}})
		f.wantRejectedField(res, "bob", "bob-share", apperr.Forbidden, "share_with_testers")
		tessPhone.sync()
		if tessPhone.get("feedback", "bob-share") != nil {
			t.Fatal("the tester pulled feedback shared by a non-member")
		}
		if _, err := f.svc.Get(ctx, tess, "bob-share"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Get = %v", err)
		}
		if n := f.count(feedbackColl); n != 0 {
			t.Fatalf("%d feedback stored", n)
		}
	})
	t.Run("sharing into a channel that does not exist is the same refusal", func(t *testing.T) {
		res := f.push(bob, map[string]changes{"feedback": {Created: []any{
			with(newRecord("bob-gamma", "x"), "share_with_testers", true, "channel", "gamma"),
		}}})
		f.wantRejectedField(res, "bob", "bob-gamma", apperr.Forbidden, "share_with_testers")
	})
	t.Run("sharing on stable is rejected with the reason instead of being dropped", func(t *testing.T) {
		res := f.push(alice, map[string]changes{"feedback": {Created: []any{
			with(newRecord("stable-share", "stable has no testers"), "share_with_testers", true, "channel", "stable"),
		}}})
		f.wantRejectedField(res, "alice", "stable-share", apperr.Invalid, "share_with_testers")
		if n := f.count(feedbackColl); n != 0 {
			t.Fatalf("%d feedback stored", n)
		}
	})
	t.Run("a member shares; a replay after leaving the channel is still accepted", func(t *testing.T) {
		shared := with(newRecord("al-share", "login button overlaps"), "share_with_testers", true)
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{shared}}}), 1)
		if err := f.engine.Revoke(ctx, "alice", betaKey); err != nil {
			t.Fatal(err)
		}
		wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{shared}, Updated: []any{shared}}}), 2)
		if d := f.doc("al-share"); !d.Shared {
			t.Fatalf("stored %+v", d)
		}
		tessPhone.sync()
		if tessPhone.get("feedback", "al-share") == nil {
			t.Fatal("the tester does not see the member's shared feedback")
		}
	})
	t.Run("an update cannot change sharing, and says so", func(t *testing.T) {
		res := f.push(alice, map[string]changes{"feedback": {Updated: []any{
			with(newRecord("al-share", "now private?"), "share_with_testers", false),
		}}})
		f.wantRejectedField(res, "alice", "al-share", apperr.Invalid, "share_with_testers")
		if d := f.doc("al-share"); !d.Shared || d.Text != "login button overlaps" {
			t.Fatalf("stored %+v", d)
		}
	})
}
