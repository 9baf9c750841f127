package release

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/push"
)

func TestReleases(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	b1, b2 := f.fakeBuild(t, "portal", Android, 100), f.fakeBuild(t, "portal", Android, 101)
	if _, err := f.svc.Invite(ctx, opsUser, "portal", "beta", "u-beta"); err != nil {
		t.Fatal(err)
	}
	publish := func(t *testing.T, b *Build, percent float64, notify bool) (*Track, string) {
		t.Helper()
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: percent, Notify: notify})
		if err != nil {
			t.Fatal(err)
		}
		return tr, tr.Releases[len(tr.Releases)-1].ID
	}
	tr, r1 := publish(t, b1, 10, true)
	change := func(t *testing.T, id string, tr Transition, pct float64) (*Track, error) {
		return f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", id, tr, pct)
	}

	t.Run("publishing makes an active staged release", func(t *testing.T) {
		r := tr.Releases[0]
		if len(tr.Releases) != 1 || r.State != rollout.Active || r.Percent != 10 || r.Seed != r.ID || r.BuildID != "android-100" || tr.Version != 1 {
			t.Fatalf("track = %+v", tr)
		}
	})
	t.Run("notify pushes a release notification to the channel's members", func(t *testing.T) {
		sent := f.push.all()
		if len(sent) != 1 {
			t.Fatalf("sent %d notifications", len(sent))
		}
		n := sent[0]
		if n.Key != "release:"+r1 || n.Category != push.CategoryRelease || len(n.Audience.UserIDs) != 1 || n.Audience.UserIDs[0] != "u-beta" || n.Audience.All {
			t.Fatalf("notification = %+v", n)
		}
		// Replaces an older notice of this app, channel and platform only: with the category's
		// one "release" key, any app's or channel's release replaced any other's.
		if n.CollapseKey != "release:portal:beta:android" {
			t.Fatalf("collapse key %q", n.CollapseKey)
		}
	})
	t.Run("the same build twice is a conflict", func(t *testing.T) {
		_, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b1.PublicID, Percent: 20})
		wantCode(t, err, apperr.Conflict)
	})
	t.Run("bad input is refused", func(t *testing.T) {
		for _, in := range []PublishInput{
			{Platform: Android, Channel: "beta", BuildID: b2.PublicID, Percent: 0},
			{Platform: Android, Channel: "beta", BuildID: b2.PublicID, Percent: 101},
			{Platform: IOS, Channel: "beta", BuildID: b2.PublicID, Percent: 5},
		} {
			_, err := f.svc.Publish(ctx, opsUser, "portal", in)
			wantCode(t, err, apperr.Invalid)
		}
		_, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "nightly", BuildID: b2.PublicID, Percent: 5})
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("raise, halt, resume and complete follow the rollout rules", func(t *testing.T) {
		steps := []struct {
			tr    Transition
			pct   float64
			code  apperr.Code
			state rollout.State
			want  float64
		}{
			{Raise, 50, "", rollout.Active, 50},
			{Raise, 20, apperr.Invalid, "", 0},
			{Halt, 0, "", rollout.Halted, 50},
			{Raise, 60, apperr.Conflict, "", 0},
			{Halt, 0, apperr.Conflict, "", 0},
			{Resume, 0, "", rollout.Active, 50},
			{Complete, 0, "", rollout.Completed, 100},
			{Resume, 0, apperr.Conflict, "", 0},
		}
		for _, st := range steps {
			got, err := change(t, r1, st.tr, st.pct)
			if st.code != "" {
				wantCode(t, err, st.code)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", st.tr, err)
			}
			if r := got.Releases[0]; r.State != st.state || r.Percent != st.want {
				t.Fatalf("after %s: %+v", st.tr, r)
			}
		}
		_, err := change(t, "rel_nope", Halt, 0)
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("a newer release joins the track and the update decision picks it", func(t *testing.T) {
		tr, _ := publish(t, b2, 100, false)
		d := rollout.Decide(tr.Rollout(), "anyone", 100)
		if d.Type != rollout.Optional || d.Release.Build != 101 || len(tr.Releases) != 2 {
			t.Fatalf("decision = %+v on %+v", d, tr.Releases)
		}
	})
	t.Run("the minimum build is set per track", func(t *testing.T) {
		tr, err := f.svc.SetMinBuild(ctx, opsUser, "portal", Android, "beta", 101)
		if err != nil || tr.MinBuild != 101 {
			t.Fatalf("track = %+v, %v", tr, err)
		}
		if d := rollout.Decide(tr.Rollout(), "anyone", 99); d.Type != rollout.Required {
			t.Fatalf("decision = %+v", d)
		}
		_, err = f.svc.SetMinBuild(ctx, opsUser, "portal", Android, "beta", -1)
		wantCode(t, err, apperr.Invalid)
		stable, err := f.svc.SetMinBuild(ctx, opsUser, "portal", IOS, "stable", 5)
		if err != nil || stable.MinBuild != 5 || len(stable.Releases) != 0 {
			t.Fatalf("new track = %+v, %v", stable, err)
		}
	})
}

// TestConcurrentRaisesKeepEveryChange raises eight releases of one track at once: each raise is
// a read-modify-write of the whole track, so a lost update would put one back to 10%.
func TestConcurrentRaisesKeepEveryChange(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	var ids []string
	for n := range 8 {
		b := f.fakeBuild(t, "portal", Android, int64(10+n))
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "stable", BuildID: b.PublicID, Percent: 10})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.Releases[n].ID)
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "stable", id, Raise, float64(20+i)); err != nil {
				t.Errorf("raise %s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
	if err != nil {
		t.Fatal(err)
	}
	tr := tracks[0]
	for i, r := range tr.Releases {
		if r.Percent != float64(20+i) {
			t.Errorf("release %d at %g%%, want %d%%", i, r.Percent, 20+i)
		}
	}
	if tr.Version != 16 {
		t.Errorf("version = %d, want 16 (8 publishes + 8 raises)", tr.Version)
	}
}

func TestRetention(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{Retention: 1}); err != nil {
		t.Fatal(err)
	}
	var builds []*Build
	for n := int64(1); n <= 3; n++ {
		builds = append(builds, f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: n}.Bytes(t)))
	}
	publish := func(b *Build, complete bool) {
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: 50})
		if err != nil {
			t.Fatal(err)
		}
		if complete {
			if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", tr.Releases[len(tr.Releases)-1].ID, Complete, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(builds[0], true)
	publish(builds[1], true)
	// Build 1 is also on stable: retention on beta must not delete what another track uses.
	if _, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "stable", BuildID: builds[0].PublicID, Percent: 100}); err != nil {
		t.Fatal(err)
	}
	extra := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 4}.Bytes(t))
	publish(builds[2], false)

	got := map[string]bool{}
	bs, err := f.svc.ListBuilds(ctx, opsUser, "portal", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		got[b.PublicID] = true
	}
	want := map[string]bool{"android-1": true, "android-2": true, "android-3": true, "android-4": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("builds = %v; build 1 is on stable, build 2 is still live on beta", got)
	}

	// Completing build 3 supersedes build 2, so the next publish's retention removes it.
	tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range tracks {
		if tr.Channel == "beta" {
			if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", tr.Releases[len(tr.Releases)-1].ID, Complete, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(extra, false)
	if _, err := f.store.Stat(ctx, media.Artifacts, builds[1].ObjectKey); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("build 2's file: %v, want it deleted", err)
	}
	if _, err := f.svc.build(ctx, "portal", "android-2"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("build 2: %v, want it deleted", err)
	}
	for _, b := range []*Build{builds[0], builds[2], extra} {
		if _, err := f.store.Stat(ctx, media.Artifacts, b.ObjectKey); err != nil {
			t.Fatalf("%s was deleted: %v", b.PublicID, err)
		}
	}
}

// TestRetentionKeepsABuildReleasedElsewhereMeanwhile: retention on beta decides to delete an old
// build while another ops user releases it on stable. Before, retention deleted it anyway (it
// had read the tracks before): stable kept a release of a build that no longer existed.
func TestRetentionKeepsABuildReleasedElsewhereMeanwhile(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{Retention: 1}); err != nil {
		t.Fatal(err)
	}
	old := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 1}.Bytes(t))
	next := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 2}.Bytes(t))
	for _, b := range []*Build{old, next} {
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: 100})
		if err != nil {
			t.Fatal(err)
		}
		if b == old {
			if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", tr.Releases[len(tr.Releases)-1].ID, Complete, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Completing build 2 makes build 1 retention's to delete, at the next publish on beta.
	tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
	if err != nil {
		t.Fatal(err)
	}
	f.svc.beforeRetire = func(b *Build) {
		if b.PublicID != old.PublicID {
			return
		}
		f.svc.beforeRetire = nil
		if _, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "stable", BuildID: b.PublicID, Percent: 100}); err != nil {
			t.Errorf("publish %s on stable meanwhile: %v", b.PublicID, err)
		}
	}
	for _, tr := range tracks {
		if tr.Channel == "beta" {
			if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", tr.Releases[len(tr.Releases)-1].ID, Complete, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	third := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 3}.Bytes(t))
	if _, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: third.PublicID, Percent: 10}); err != nil {
		t.Fatal(err)
	}
	if f.svc.beforeRetire != nil {
		t.Fatal("retention never decided to delete build 1: the test no longer tests the race")
	}
	if _, err := f.svc.build(ctx, "portal", old.PublicID); err != nil {
		t.Fatalf("build 1 (released on stable meanwhile): %v", err)
	}
	if _, err := f.store.Stat(ctx, media.Artifacts, old.ObjectKey); err != nil {
		t.Fatalf("build 1's file: %v", err)
	}
}
