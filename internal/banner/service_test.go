package banner_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/media"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable clock for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration)   { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock(t time.Time) *clock      { return &clock{t: t} }
func ctx(t *testing.T) context.Context { return t.Context() }
func ops() *auth.Principal             { return &auth.Principal{UserID: "ops1", Roles: []auth.Role{auth.RoleOps}} }
func employee() *auth.Principal {
	return &auth.Principal{UserID: "e1", Roles: []auth.Role{auth.RoleEmployee}}
}
func admin() *auth.Principal {
	return &auth.Principal{UserID: "a1", Roles: []auth.Role{auth.RoleAdmin}}
}
func ptr[T any](v T) *T { return &v }

func newService(t *testing.T, c *clock) *banner.Service {
	t.Helper()
	store := testenv.Store(t, "b")
	png := []byte("\x89PNG\r\n\x1a\nbanner")
	if _, err := store.Put(ctx(t), media.Images, "banners/a.png", bytes.NewReader(png), int64(len(png)), "image/png"); err != nil {
		t.Fatal(err)
	}
	return &banner.Service{DB: testenv.Mongo(t), Images: store, Now: c.now}
}

func TestService(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newClock(start)
	s := newService(t, c)
	in := banner.Input{Title: "Hello", ImageKey: "banners/a.png", StartsAt: start.Add(-time.Hour), EndsAt: start.Add(time.Hour), Public: true}

	t.Run("lets only ops manage banners", func(t *testing.T) {
		for _, p := range []*auth.Principal{employee(), admin()} {
			if _, err := s.Create(ctx(t), p, in); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("Create by %v = %v, want forbidden", p.Roles, err)
			}
			if _, err := s.List(ctx(t), p); !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("List by %v = %v, want forbidden", p.Roles, err)
			}
		}
	})
	t.Run("rejects an image key that names no uploaded image", func(t *testing.T) {
		bad := in
		bad.ImageKey = "banners/missing.png"
		_, err := s.Create(ctx(t), ops(), bad)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != "image_key" {
			t.Fatalf("Create = %v, want invalid image_key", err)
		}
	})

	b, err := s.Create(ctx(t), ops(), in)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Public(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 1 || first.Items[0].ID != b.ID || first.Items[0].ImageURL == "" {
		t.Fatalf("Public = %+v, want the one banner with an image URL", first.Items)
	}

	t.Run("reuses the rendered list while it is fresh", func(t *testing.T) {
		c.add(banner.PublicMaxAge - time.Second)
		again, err := s.Public(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if again.Items[0].ImageURL != first.Items[0].ImageURL || again.ETag != first.ETag {
			t.Fatal("a fresh list was rendered again")
		}
	})
	t.Run("renders new URLs after a minute, with a new ETag", func(t *testing.T) {
		// A 304 keeps the client on the URLs it holds: the tag must change with them.
		c.add(2 * time.Second)
		later, err := s.Public(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if later.RenderedAt.Equal(first.RenderedAt) || later.ETag == first.ETag {
			t.Fatalf("rendered at %v (first %v), ETag %s (first %s)", later.RenderedAt, first.RenderedAt, later.ETag, first.ETag)
		}
	})
	t.Run("changes the ETag and hides a banner made private", func(t *testing.T) {
		if _, err := s.Update(ctx(t), ops(), b.ID, banner.Patch{Public: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		p, err := s.Public(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != 0 || p.ETag == first.ETag {
			t.Fatalf("Public = %+v with ETag %s, want nothing and a new tag", p.Items, p.ETag)
		}
	})
	t.Run("validates the patched banner as a whole", func(t *testing.T) {
		_, err := s.Update(ctx(t), ops(), b.ID, banner.Patch{EndsAt: ptr(in.StartsAt)})
		if e, ok := apperr.As(err); !ok || e.Field != "ends_at" {
			t.Fatalf("Update = %v, want invalid ends_at", err)
		}
	})
	t.Run("answers not_found for an unknown banner", func(t *testing.T) {
		if _, err := s.Update(ctx(t), ops(), "nope", banner.Patch{Order: ptr(1)}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Update = %v", err)
		}
		if err := s.Delete(ctx(t), ops(), "nope"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("Delete = %v", err)
		}
	})
	t.Run("shows another instance's writes after Refresh", func(t *testing.T) {
		other := &banner.Service{DB: s.DB, Images: s.Images, Now: c.now}
		if _, err := other.Public(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx(t), ops(), b.ID, banner.Patch{Public: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if err := other.Refresh(ctx(t)); err != nil {
			t.Fatal(err)
		}
		p, err := other.Public(ctx(t))
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("Public on the other instance = %+v, %v", p, err)
		}
	})
}
