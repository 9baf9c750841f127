package console

import (
	"strings"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/announce"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/banner"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/internal/whatsnew"
)

// Every word of the announcements screens exists in every locale.
func TestAnnounceMessagesHaveEveryLocale(t *testing.T) {
	for key, m := range announceMessages {
		for _, loc := range i18n.Locales {
			if strings.TrimSpace(m[string(loc)]) == "" {
				t.Errorf("message %q has no %s text", key, loc)
			}
		}
	}
}

// The announcements, banners and what's-new pages render for ops, show the menu entry, and
// carry no script and no inline style.
func TestAnnounceScreensRender(t *testing.T) {
	ops := &auth.Principal{UserID: "u1", Roles: []auth.Role{auth.RoleOps}}
	at := time.Date(2031, 5, 4, 8, 0, 0, 0, time.UTC)
	a := announce.Announcement{ID: "a1", Title: "All hands", Status: announce.StatusScheduled, Importance: announce.Normal,
		PublishAt: at, Audience: announce.Audience{Departments: []string{"Sales"}}}
	cover, img := "0123456789abcdef0123456789abcdef.png", "http://127.0.0.1:9000/mportal-images/x.png?X-Amz-Signature=s"
	withCover := a
	withCover.CoverImage = &cover
	images := map[string]string{cover: img, "k.png": img}
	est := &announce.Estimate{Users: 2, PushDevices: 3, ByDepartment: []announce.DepartmentStats{{Department: "Sales", Audience: 2}}}
	for name, data := range map[string]any{
		"announcements":    []AnnouncementRow{{Announcement: a}},
		"announcement":     AnnouncementDetail{Announcement: a, Stats: &announce.Stats{ByDepartment: []announce.DepartmentStats{}}},
		"compose editor":   Compose{Draft: Draft{Body: "x"}, RoleChoices: []string{"ops"}},
		"announce_compose": Compose{Draft: Draft{Title: "x", Body: "a\nb", PublishAt: "2031-05-04T08:05", Roles: []string{"ops"}}, RoleChoices: []string{"ops"}, Estimate: est, Preview: "<p>a</p>", Review: true},
		"banners":          Banners{Items: []banner.Banner{{ID: "b1", Title: "Hello", StartsAt: at, EndsAt: at.Add(time.Hour)}}},
		"whatsnew":         WhatsNew{Items: []whatsnew.Card{{ID: "com.example.portal:100:0", AppID: "com.example.portal", Title: map[string]string{"en": "New"}}}},
		"with cover":       AnnouncementDetail{Announcement: withCover, Stats: &announce.Stats{}, Images: images},
		"edit review":      Compose{Draft: DraftOf(withCover), EditID: "a1", Published: true, Estimate: est, Review: true, Images: images},
		"edit form":        Compose{Draft: DraftOf(withCover), EditID: "a1", Images: images},
		"banner images":    Banners{Items: []banner.Banner{{ID: "b1", Title: "Hello", ImageKey: "k.png", StartsAt: at, EndsAt: at.Add(time.Hour)}}, Images: images},
		"card images":      WhatsNew{Items: []whatsnew.Card{{ID: "c:1:0", AppID: "c", ImageKey: "k.png", Title: map[string]string{"en": "New"}}}, Images: images},
	} {
		for _, loc := range []string{"zh-CN", "en"} {
			tmpl := map[string]string{"compose editor": "announce_compose", "with cover": "announcement", "edit review": "announce_compose",
				"edit form": "announce_compose", "banner images": "banners", "card images": "whatsnew"}[name]
			if tmpl == "" {
				tmpl = name
			}
			b, err := Render(tmpl, Page{Locale: loc, Title: "announcements", Viewer: ops, Nav: "announcements", Data: data})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			page := string(b)
			inline := strings.Count(page, "<script") != strings.Count(page, `<script src="/console/static/`)
			if !strings.Contains(page, `href="/console/announcements" aria-current="page"`) || inline || strings.Contains(page, "style=") {
				t.Errorf("%s in %s lacks the menu entry or has a script or an inline style:\n%s", name, loc, page)
			}
			if shows := strings.Contains(name, "cover") || strings.HasPrefix(name, "edit ") || strings.Contains(name, "images"); shows && !strings.Contains(page, `src="`+img+`"`) {
				t.Errorf("%s in %s does not show its image:\n%s", name, loc, page)
			}
		}
	}
	// Admins without role ops do not see the entry.
	b, err := Render("dashboard", Page{Locale: "en", Title: "dashboard", Viewer: &auth.Principal{Roles: []auth.Role{auth.RoleAdmin}}, Data: &Dashboard{}})
	if err != nil || strings.Contains(string(b), `href="/console/announcements"`) {
		t.Errorf("an admin's menu offers the announcements (%v):\n%s", err, b)
	}
}
