package release

import (
	"slices"
	"testing"
)

func TestCatalog(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	t.Run("the generation is empty before the first write", func(t *testing.T) {
		if gen, err := f.svc.Generation(ctx); err != nil || gen != "" {
			t.Fatalf("Generation = %q, %v; want empty", gen, err)
		}
	})
	f.app(t, "portal")
	first, err := f.svc.Generation(ctx)
	if err != nil || first == "" {
		t.Fatalf("Generation after creating an app = %q, %v", first, err)
	}
	t.Run("a write moves the generation", func(t *testing.T) {
		if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true}); err != nil {
			t.Fatal(err)
		}
		if gen, err := f.svc.Generation(ctx); err != nil || gen == "" || gen == first {
			t.Fatalf("Generation after a write = %q, %v; was %q", gen, err, first)
		}
	})
	t.Run("the catalog holds every app, channel, build and track", func(t *testing.T) {
		b := f.fakeBuild(t, "portal", Android, 7)
		if _, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: 100}); err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Apps) != 1 || c.Apps[0].ID != "portal" {
			t.Fatalf("apps = %+v", c.Apps)
		}
		if !slices.ContainsFunc(c.Channels, func(ch Channel) bool { return ch.AppID == "portal" && ch.Name == "beta" && ch.SelfOptIn }) {
			t.Fatalf("channels = %+v, want portal's beta, open to opt-in", c.Channels)
		}
		if !slices.ContainsFunc(c.Builds, func(x Build) bool { return x.ID == b.ID }) {
			t.Fatalf("builds = %+v, want %s", c.Builds, b.ID)
		}
		if !slices.ContainsFunc(c.Tracks, func(tr Track) bool { return tr.Channel == "beta" && tr.Platform == Android }) {
			t.Fatalf("tracks = %+v, want android beta", c.Tracks)
		}
		if c.Members == nil {
			t.Fatal("members is nil, want an empty list")
		}
	})
}
