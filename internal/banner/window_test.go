package banner

import (
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func TestVisible(t *testing.T) {
	all := []Banner{
		{ID: "active", Public: true, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)},
		{ID: "starts-now", Public: true, StartsAt: t0, EndsAt: t0.Add(time.Hour)},
		{ID: "ends-now", Public: true, StartsAt: t0.Add(-time.Hour), EndsAt: t0},
		{ID: "future", Public: true, StartsAt: t0.Add(time.Minute), EndsAt: t0.Add(time.Hour)},
		{ID: "expired", Public: true, StartsAt: t0.Add(-2 * time.Hour), EndsAt: t0.Add(-time.Hour)},
		{ID: "private", Public: false, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour)},
	}
	var got []string
	for _, b := range Visible(all, t0) {
		got = append(got, b.ID)
	}
	if strings.Join(got, ",") != "active,starts-now" {
		t.Fatalf("Visible = %v, want [active starts-now]: the window is starts_at <= now < ends_at and only public banners show", got)
	}
}

func TestSortBanners(t *testing.T) {
	bs := []Banner{
		{ID: "c", Order: 2, StartsAt: t0},
		{ID: "b", Order: 1, StartsAt: t0.Add(time.Hour)},
		{ID: "a", Order: 1, StartsAt: t0.Add(time.Hour)},
		{ID: "z", Order: 1, StartsAt: t0},
	}
	sortBanners(bs)
	var got []string
	for _, b := range bs {
		got = append(got, b.ID)
	}
	if strings.Join(got, ",") != "z,a,b,c" {
		t.Fatalf("order = %v, want by order, then start, then id", got)
	}
}

func TestETag(t *testing.T) {
	base := []Banner{{ID: "a", UpdatedAt: t0, Order: 1, StartsAt: t0, EndsAt: t0.Add(time.Hour)}}
	tag := ETag(base)
	t.Run("is a quoted strong tag that depends only on the data", func(t *testing.T) {
		if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || strings.HasPrefix(tag, "W/") {
			t.Fatalf("ETag = %s, want a quoted strong tag", tag)
		}
		if again := ETag([]Banner{base[0]}); again != tag {
			t.Fatalf("the same banners gave %s and %s", tag, again)
		}
	})
	changes := map[string]func(b *Banner){
		"changes when a banner is updated": func(b *Banner) { b.UpdatedAt = b.UpdatedAt.Add(time.Millisecond) },
		"changes when the order changes":   func(b *Banner) { b.Order++ },
		"changes when the window moves":    func(b *Banner) { b.EndsAt = b.EndsAt.Add(time.Second) },
		"changes with another banner":      func(b *Banner) { b.ID = "b" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			b := base[0]
			change(&b)
			if ETag([]Banner{b}) == tag {
				t.Fatal("the tag did not change")
			}
		})
	}
	t.Run("differs between no banners and one", func(t *testing.T) {
		if ETag(nil) == tag {
			t.Fatal("the empty list has the same tag")
		}
	})
}

func TestNormalize(t *testing.T) {
	valid := func() Banner {
		return Banner{Title: " Welcome ", ImageKey: "banners/a.png", Link: "https://example.com/x",
			StartsAt: t0, EndsAt: t0.Add(time.Hour), Order: 3}
	}
	t.Run("accepts a valid banner and trims its title", func(t *testing.T) {
		b := valid()
		if err := normalize(&b); err != nil {
			t.Fatal(err)
		}
		if b.Title != "Welcome" {
			t.Fatalf("title = %q", b.Title)
		}
	})
	tests := []struct {
		name  string
		field string
		edit  func(b *Banner)
	}{
		{"rejects an empty title", "title", func(b *Banner) { b.Title = "  " }},
		{"rejects a title over 100 characters", "title", func(b *Banner) { b.Title = strings.Repeat("横", 101) }},
		{"rejects a missing image key", "image_key", func(b *Banner) { b.ImageKey = "" }},
		{"rejects an image key that escapes its prefix", "image_key", func(b *Banner) { b.ImageKey = "../secret" }},
		{"rejects an http link", "link", func(b *Banner) { b.Link = "http://example.com" }},
		{"rejects a javascript link", "link", func(b *Banner) { b.Link = "javascript:alert(1)" }},
		{"rejects a link with credentials", "link", func(b *Banner) { b.Link = "https://u:p@example.com" }},
		{"rejects a missing start", "starts_at", func(b *Banner) { b.StartsAt = time.Time{} }},
		{"rejects an end before the start", "ends_at", func(b *Banner) { b.EndsAt = b.StartsAt.Add(-time.Second) }},
		{"rejects an end equal to the start", "ends_at", func(b *Banner) { b.EndsAt = b.StartsAt }},
		{"rejects a huge order", "order", func(b *Banner) { b.Order = maxOrder + 1 }},
		// 10000-01-01T00:30Z: stored, it would fail every answer that lists the banner.
		{"rejects an end JSON cannot write", "ends_at", func(b *Banner) {
			b.EndsAt = time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("", -3600))
		}},
		{"rejects a start before 1970", "starts_at", func(b *Banner) { b.StartsAt = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := valid()
			tc.edit(&b)
			err := normalize(&b)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != tc.field {
				t.Fatalf("normalize = %v, want invalid with field %s", err, tc.field)
			}
		})
	}
	for _, link := range []string{"", "https://example.com", "mportal://announcements/6650b2c3", "HTTPS://EXAMPLE.COM/a?b=c"} {
		t.Run("accepts the link "+link, func(t *testing.T) {
			if err := validLink(link); err != nil {
				t.Fatal(err)
			}
		})
	}
}
