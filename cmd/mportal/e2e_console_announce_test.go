package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// consoleUpload posts a console form as multipart/form-data with the session's token and, when
// file is set, one PNG in fileField.
func (ts *testServer) consoleUpload(s consoleSession, path string, form url.Values, fileField string, file []byte, opts ...func(*http.Request)) response {
	ts.t.Helper()
	var png *formFile
	if file != nil {
		png = &formFile{field: fileField, name: "picture.png", contentType: "image/png", data: file}
	}
	return ts.consoleMultipart(s, path, form, png, opts...)
}

var (
	reachUsers   = regexp.MustCompile(`id="reach-users">(\d+)<`)
	reachDevices = regexp.MustCompile(`id="reach-devices">(\d+)<`)
	coverKey     = regexp.MustCompile(`name="cover_image" value="([^"]+)"`)
	coverImage   = regexp.MustCompile(`<img class="cover" id="cover-image" src="([^"]+)"`)
)

// TestConsoleAnnouncements drives the announcements, banners and what's-new screens over HTTP:
// roles as in the API, the compose steps (preview with the API's sanitizer, reach by the
// directory's audience rules, confirmation), scheduling, reminding and withdrawing, banners and
// cards; each change is checked through the API and the audit log.
func TestConsoleAnnouncements(t *testing.T) {
	f := newAnnouncementFixture(t)
	ts := f.ts
	_, opsS := ts.consoleSignIn("E7000", "E7000-passphrase")
	_, adminS := ts.consoleSignIn("admin", "admin-passphrase-1")
	en := withHeader("Accept-Language", "en")
	draft := func(extra url.Values) url.Values {
		v := url.Values{"title": {"Fire drill"}, "body": {"Meet at **gate 3**.\n\n<script>alert(1)</script>"},
			"importance": {"important"}, "departments": {"Field Ops"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}

	t.Run("keeps admins without role ops and employees off the screens, as the API does", func(t *testing.T) {
		ts := ts.with(t)
		for _, path := range []string{"/console/announcements", "/console/announcements/new", "/console/banners", "/console/whats-new"} {
			ts.must(ts.call("GET", path, "", nil, adminS.cookies()), 403)
			ts.must(ts.call("GET", path, "", nil, opsS.cookies()), 200) // the screens open for ops
		}
		ts.must(ts.consolePost(adminS, "/console/announcements", draft(nil)), 403)
		ts.must(ts.consolePost(adminS, "/console/announcements/new", draft(url.Values{"step": {"preview"}})), 403)
		page := ts.must(ts.call("GET", "/console/", "", nil, adminS.cookies()), 200)
		if strings.Contains(string(page.body), `href="/console/announcements"`) {
			t.Error("an admin without role ops sees the announcements in the menu")
		}
		ts.must(ts.call("GET", "/v1/ops/announcements", f.admin, nil), 403)
		var list struct{ Items []opsAnnouncement }
		ts.must(ts.call("GET", "/v1/ops/announcements", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("refused forms created %+v", list.Items)
		}
	})

	t.Run("previews the body as the API renders it and estimates the reach by the audience rules", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(opsS, "/console/announcements/new", draft(url.Values{"step": {"preview"}}), en), 200)
		body := string(r.body)
		if !strings.Contains(body, "Meet at <strong>gate 3</strong>.") || strings.Contains(body, "<script>alert") {
			t.Errorf("the preview is not the sanitized rendering:\n%s", body)
		}
		// alice (two devices) and bob (one) are in Field Ops; carol is in Sales.
		if m, d := reachUsers.FindStringSubmatch(body), reachDevices.FindStringSubmatch(body); m == nil || m[1] != "2" || d == nil || d[1] != "3" {
			t.Errorf("reach %v users, %v devices; want 2 and 3:\n%s", m, d, body)
		}
		all := ts.must(ts.consolePost(opsS, "/console/announcements/new", draft(url.Values{"step": {"preview"}, "all": {"1"}})), 200)
		// Everyone active: ops, alice, bob, carol and the admin.
		if m := reachUsers.FindStringSubmatch(string(all.body)); m == nil || m[1] != "5" {
			t.Errorf("reach of everyone %v, want 5", m)
		}
	})

	t.Run("renders the live preview's fragment with the API's sanitizer, for ops only", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(opsS, "/console/announcements/preview", url.Values{"body": {"Hi **all**<script>alert(1)</script>"}}), 200)
		if got := string(r.body); !strings.HasPrefix(got, "<p>Hi <strong>all</strong>") || strings.Contains(got, "<script") {
			t.Errorf("the fragment %q", got)
		}
		ts.must(ts.consolePost(opsS, "/console/announcements/preview", url.Values{"body": {" "}}), 400)
		ts.must(ts.consolePost(opsS, "/console/announcements/preview", url.Values{"body": {"x"}, "csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(adminS, "/console/announcements/preview", url.Values{"body": {"x"}}), 403)
		js := ts.must(ts.call("GET", "/console/static/announce-preview.js", "", nil), 200)
		if !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
			t.Errorf("script Content-Type %q", js.header.Get("Content-Type"))
		}
	})

	t.Run("shows the form again with the reason and the field the service refuses", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(opsS, "/console/announcements/new", draft(url.Values{"step": {"review"}, "roles": {"pilot"}}), en), 400)
		if !strings.Contains(string(r.body), `unknown role`) || !strings.Contains(string(r.body), `id="title" name="title" value="Fire drill"`) {
			t.Errorf("the refused draft:\n%s", r.body)
		}
		r = ts.must(ts.consolePost(opsS, "/console/announcements", draft(url.Values{"title": {" "}})), 400)
		if !strings.Contains(string(r.body), `aria-invalid="true"`) || !strings.Contains(string(r.body), "title must be") {
			t.Errorf("a blank title:\n%s", r.body)
		}
		ts.must(ts.consolePost(opsS, "/console/announcements/new", draft(url.Values{"step": {"review"}, "publish_at": {"soon"}})), 400)
		ts.must(ts.consolePost(opsS, "/console/announcements", draft(url.Values{"csrf_token": {"forged"}})), 403)
		ts.must(ts.consoleUpload(opsS, "/console/announcements/new", draft(url.Values{"csrf_token": {"forged"}}), "cover", pngBytes(t)), 403)
		ts.must(ts.consolePost(opsS, "/console/announcements", draft(nil), withHeader("Origin", "https://evil.example")), 403)
		var list struct{ Items []opsAnnouncement }
		ts.must(ts.call("GET", "/v1/ops/announcements", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("refused forms created %+v", list.Items)
		}
	})

	var scheduled string
	t.Run("schedules a confirmed announcement with a cover image, as the API then shows it", func(t *testing.T) {
		ts := ts.with(t)
		at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
		form := draft(url.Values{"step": {"review"}, "publish_at": {at.Format("2006-01-02T15:04")}})
		review := ts.must(ts.consoleUpload(opsS, "/console/announcements/new", form, "cover", pngBytes(t), en), 200)
		body := string(review.body)
		key := coverKey.FindStringSubmatch(body)
		if key == nil || !strings.Contains(body, "Confirm and schedule") || !strings.Contains(body, "departments: Field Ops") ||
			!strings.Contains(body, `<strong>2</strong> users`) {
			t.Fatalf("the confirmation lacks the cover key, the schedule or the reach:\n%s", body)
		}
		form.Del("step")
		form.Set("cover_image", key[1])
		r := ts.must(ts.consolePost(opsS, "/console/announcements", form), 303)
		loc := r.header.Get("Location")
		scheduled = strings.TrimPrefix(loc, "/console/announcements/")
		var a struct {
			opsAnnouncement
			Body       string
			Importance string
			PublishAt  time.Time `json:"publish_at"`
			CoverImage *string   `json:"cover_image"`
			Audience   struct{ Departments []string }
		}
		ts.must(ts.call("GET", "/v1/ops/announcements/"+scheduled, f.ops, nil), 200).json(t, &a)
		if a.Status != "scheduled" || !a.PublishAt.Equal(at) || a.Body != form.Get("body") || a.Importance != "important" ||
			len(a.Audience.Departments) != 1 || a.Audience.Departments[0] != "Field Ops" || a.CoverImage == nil || *a.CoverImage != key[1] {
			t.Errorf("the API shows %+v", a)
		}
		detail := ts.must(ts.call("GET", loc, "", nil, opsS.cookies(), en), 200)
		if !strings.Contains(string(detail.body), "scheduled") || !strings.Contains(string(detail.body), "<strong>gate 3</strong>") {
			t.Errorf("the announcement's page:\n%s", detail.body)
		}
		// Only a published announcement can be reminded of; the page says so.
		rem := ts.must(ts.consolePost(opsS, loc+"/remind", nil, en), 409)
		if !strings.Contains(string(rem.body), "only a published announcement") {
			t.Errorf("reminding a scheduled announcement:\n%s", rem.body)
		}
	})

	t.Run("shows the cover from MinIO and edits the scheduled announcement, as the API then shows it", func(t *testing.T) {
		ts := ts.with(t)
		imgOrigin := func(r response) string {
			t.Helper()
			m := coverImage.FindStringSubmatch(string(r.body))
			if m == nil {
				t.Fatalf("no cover image on the page:\n%s", r.body)
			}
			u, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
			if err != nil || u.Query().Get("X-Amz-Signature") == "" {
				t.Fatalf("the cover's address %q is not a presigned URL", m[1])
			}
			origin := u.Scheme + "://" + u.Host
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: "+origin+";") {
				t.Errorf("the CSP does not allow the cover's origin %s: %s", origin, csp)
			}
			return origin
		}
		imgOrigin(ts.must(ts.call("GET", "/console/announcements/"+scheduled, "", nil, opsS.cookies(), en), 200))
		edit := ts.must(ts.call("GET", "/console/announcements/"+scheduled+"/edit", "", nil, opsS.cookies(), en), 200)
		imgOrigin(edit)
		if !strings.Contains(string(edit.body), `value="Fire drill"`) || !strings.Contains(string(edit.body), `action="/console/announcements/`+scheduled+`/edit"`) {
			t.Fatalf("the edit form is not filled with the announcement:\n%s", edit.body)
		}
		at := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Minute)
		form := draft(url.Values{"title": {"Fire drill moved"}, "publish_at": {at.Format("2006-01-02T15:04")}})
		bad := ts.must(ts.consolePost(opsS, "/console/announcements/"+scheduled, draft(url.Values{"publish_at": {"soon"}}), en), 400)
		if !strings.Contains(string(bad.body), `id="publish_at" name="publish_at" value="soon" aria-invalid="true"`) {
			t.Errorf("a bad publish time is not marked on the form:\n%s", bad.body)
		}
		form.Set("step", "review")
		review := ts.must(ts.consolePost(opsS, "/console/announcements/"+scheduled+"/edit", form, en), 200)
		if !strings.Contains(string(review.body), "Save changes") || !strings.Contains(string(review.body), `action="/console/announcements/`+scheduled+`"`) {
			t.Fatalf("the edit's confirmation:\n%s", review.body)
		}
		form.Del("step")
		ts.must(ts.consolePost(opsS, "/console/announcements/"+scheduled, form), 303)
		var a struct {
			opsAnnouncement
			Title      string
			PublishAt  time.Time `json:"publish_at"`
			CoverImage *string   `json:"cover_image"`
		}
		ts.must(ts.call("GET", "/v1/ops/announcements/"+scheduled, f.ops, nil), 200).json(t, &a)
		if a.Status != "scheduled" || a.Title != "Fire drill moved" || !a.PublishAt.Equal(at) || a.CoverImage != nil {
			t.Errorf("after the edit the API shows %+v (the cover field was left empty: removed)", a)
		}

		// A published announcement keeps its publish time; a withdrawn one cannot be edited.
		r := ts.must(ts.consolePost(opsS, "/console/announcements", draft(url.Values{"title": {"Lift out of order"}})), 303)
		id := strings.TrimPrefix(r.header.Get("Location"), "/console/announcements/")
		page := ts.must(ts.call("GET", "/console/announcements/"+id+"/edit", "", nil, opsS.cookies(), en), 200)
		if !strings.Contains(string(page.body), `id="publish-fixed"`) || strings.Contains(string(page.body), `name="publish_at" value=""`) {
			t.Errorf("the published announcement's edit form offers a publish time:\n%s", page.body)
		}
		ts.must(ts.consolePost(opsS, "/console/announcements/"+id, draft(url.Values{"title": {"Lift repaired"}, "publish_at": {at.Format("2006-01-02T15:04")}})), 303)
		ts.must(ts.call("GET", "/v1/ops/announcements/"+id, f.ops, nil), 200).json(t, &a)
		if a.Status != "published" || a.Title != "Lift repaired" || a.PublishAt.Equal(at) {
			t.Errorf("after editing the published one the API shows %+v", a)
		}
		ts.must(ts.consolePost(opsS, "/console/announcements/"+id+"/withdraw", nil), 303)
		gone := ts.must(ts.consolePost(opsS, "/console/announcements/"+id, draft(nil), en), 409)
		if !strings.Contains(string(gone.body), "withdrawn") {
			t.Errorf("editing a withdrawn announcement:\n%s", gone.body)
		}
		ts.must(ts.call("GET", "/console/announcements/"+id+"/edit", "", nil, adminS.cookies()), 403)
		ts.must(ts.consolePost(opsS, "/console/announcements/"+scheduled, draft(url.Values{"csrf_token": {"forged"}})), 403)
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, adminS.cookies()), 200).body)
		if !strings.Contains(audit, "announcement.update") || !strings.Contains(audit, "Fire drill moved") {
			t.Errorf("the audit log lacks the edit:\n%s", audit)
		}
	})

	t.Run("publishes at once, shows reads by department, reminds once a day and withdraws, audited", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(opsS, "/console/announcements", draft(url.Values{"title": {"Canteen closed"}})), 303)
		id := strings.TrimPrefix(r.header.Get("Location"), "/console/announcements/")
		ts.must(ts.call("POST", "/v1/announcements/"+id+"/read", f.alice.token, nil), 204)
		page := string(ts.must(ts.call("GET", "/console/announcements/"+id, "", nil, opsS.cookies(), en), 200).body)
		for _, want := range []string{`id="status">published`, `id="audience-size">2<`, `id="read">1<`, `<td>Field Ops</td><td>2</td><td>1</td><td>0</td>`} {
			if !strings.Contains(page, want) {
				t.Errorf("the announcement's page lacks %s:\n%s", want, page)
			}
		}
		rem := ts.must(ts.consolePost(opsS, "/console/announcements/"+id+"/remind", nil), 303)
		if rem.header.Get("Location") != "/console/announcements/"+id+"?reminded=1" {
			t.Errorf("after the reminder: Location %q (bob is the one who has not read it)", rem.header.Get("Location"))
		}
		ts.must(ts.consolePost(opsS, "/console/announcements/"+id+"/remind", nil), 409)
		ts.must(ts.consolePost(opsS, "/console/announcements/"+id+"/withdraw", nil), 303)
		var a opsAnnouncement
		ts.must(ts.call("GET", "/v1/ops/announcements/"+id, f.ops, nil), 200).json(t, &a)
		if a.Status != "withdrawn" {
			t.Errorf("the API says %q after the withdrawal", a.Status)
		}
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, adminS.cookies()), 200).body)
		for _, want := range []string{"announcement.create", "announcement.remind", "announcement.withdraw", scheduled} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %s:\n%s", want, audit)
			}
		}
	})

	t.Run("creates, edits and deletes a banner with its image, as the API then shows it", func(t *testing.T) {
		ts := ts.with(t)
		start := time.Now().UTC().Truncate(time.Minute)
		form := url.Values{"title": {"Welcome"}, "link": {"https://intranet.example/welcome"}, "order": {"1"}, "public": {"1"},
			"starts_at": {start.Format("2006-01-02T15:04")}, "ends_at": {start.Add(48 * time.Hour).Format("2006-01-02T15:04")}}
		noImage := ts.must(ts.consoleUpload(opsS, "/console/banners", form, "", nil, en), 400)
		if !strings.Contains(string(noImage.body), "image") {
			t.Errorf("a banner without an image:\n%s", noImage.body)
		}
		ts.must(ts.consoleUpload(opsS, "/console/banners", form, "image", pngBytes(t)), 303)
		type apiBanner struct {
			ID, Title string
			ImageKey  string `json:"image_key"`
			Public    bool
			EndsAt    time.Time `json:"ends_at"`
		}
		var list struct{ Items []apiBanner }
		ts.must(ts.call("GET", "/v1/ops/banners", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].Title != "Welcome" || !list.Items[0].Public || list.Items[0].ImageKey == "" {
			t.Fatalf("the API's banners %+v", list.Items)
		}
		b := list.Items[0]
		form.Set("title", "Welcome back")
		form.Set("ends_at", start.Add(time.Hour).Format("2006-01-02T15:04"))
		ts.must(ts.consoleUpload(opsS, "/console/banners/"+b.ID, form, "", nil), 303)
		ts.must(ts.call("GET", "/v1/ops/banners", f.ops, nil), 200).json(t, &list)
		if got := list.Items[0]; got.Title != "Welcome back" || !got.EndsAt.Equal(start.Add(time.Hour)) || got.ImageKey != b.ImageKey {
			t.Errorf("after the edit the API shows %+v", got)
		}
		ts.must(ts.consolePost(opsS, "/console/banners/"+b.ID+"/delete", url.Values{"csrf_token": {"forged"}}), 403)
		ts.must(ts.consolePost(opsS, "/console/banners/"+b.ID+"/delete", nil), 303)
		ts.must(ts.call("GET", "/v1/ops/banners", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("after the delete the API shows %+v", list.Items)
		}
		ts.must(ts.consolePost(opsS, "/console/banners/"+b.ID+"/delete", nil), 404)
	})

	t.Run("creates and deletes a what's-new card, as the API then shows it", func(t *testing.T) {
		ts := ts.with(t)
		form := url.Values{"app_id": {"com.example.portal"}, "build_number": {"120"}, "order": {"0"},
			"title_en": {"Offline forms"}, "body_en": {"Fill forms without signal."}, "title_zh": {"离线表单"}, "body_zh": {"无信号也能填写。"}}
		r := ts.must(ts.consoleUpload(opsS, "/console/whats-new", form, "image", pngBytes(t)), 303)
		if r.header.Get("Location") != "/console/whats-new?app=com.example.portal" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		taken := ts.must(ts.consoleUpload(opsS, "/console/whats-new", form, "", nil), 409)
		if !strings.Contains(string(taken.body), `role="alert"`) {
			t.Errorf("a taken order:\n%s", taken.body)
		}
		ts.must(ts.consolePost(opsS, "/console/whats-new", url.Values{"app_id": {"portal"}, "build_number": {"1"}, "title_en": {"x"}}), 400)
		var list struct {
			Items []struct {
				ID       string
				ImageKey string `json:"image_key"`
				Title    map[string]string
			}
		}
		ts.must(ts.call("GET", "/v1/ops/whats-new?app=com.example.portal", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].Title["zh-CN"] != "离线表单" || list.Items[0].ImageKey == "" {
			t.Fatalf("the API's cards %+v", list.Items)
		}
		page := ts.must(ts.call("GET", "/console/whats-new?app=com.example.portal", "", nil, opsS.cookies()), 200)
		if !strings.Contains(string(page.body), "Offline forms") {
			t.Errorf("the cards screen:\n%s", page.body)
		}
		ts.must(ts.consolePost(opsS, "/console/whats-new/"+list.Items[0].ID+"/delete", nil), 303)
		ts.must(ts.call("GET", "/v1/ops/whats-new?app=com.example.portal", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 0 {
			t.Errorf("after the delete the API shows %+v", list.Items)
		}
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, adminS.cookies()), 200).body)
		for _, want := range []string{"banner.create", "banner.update", "banner.delete", "whatsnew.create", "whatsnew.delete"} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit log lacks %s", want)
			}
		}
	})
}
