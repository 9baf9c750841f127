package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mportal/mportal/media"
)

// staff signs in an admin, an ops user and two employees (zh-CN and en) on a fresh server.
type staff struct {
	admin, ops, zh, en string
}

func (ts *testServer) staff() staff {
	ts.t.Helper()
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	user := func(no, locale string, roles ...string) string {
		_, otp := ts.createUser(admin, map[string]any{"employee_no": no, "name": no, "locale": locale, "roles": roles})
		return ts.signIn(no, otp, no+"-passphrase", no+"-phone").AccessToken
	}
	return staff{
		admin: admin,
		ops:   user("E7001", "zh-CN", "employee", "ops"),
		zh:    user("E7002", "zh-CN", "employee"),
		en:    user("E7003", "en", "employee"),
	}
}

// putImage stores an image in the Images bucket the way the upload endpoint does.
func (ts *testServer) putImage(key string, data []byte) {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ts.main.store.Put(ctx, media.Images, key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		ts.t.Fatal(err)
	}
}

func TestBanners(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	who := ts.staff()
	png := []byte("\x89PNG\r\n\x1a\n-e2e-banner-image")
	ts.putImage("banners/e2e.png", png)

	now := time.Now().UTC()
	create := func(title string, starts, ends time.Time, public bool, order int) string {
		r := ts.must(ts.call("POST", "/v1/ops/banners", who.ops, map[string]any{
			"title": title, "image_key": "banners/e2e.png", "link": "mportal://announcements/x",
			"starts_at": starts, "ends_at": ends, "public": public, "order": order,
		}), 201)
		var b struct{ ID string }
		r.json(t, &b)
		return b.ID
	}
	active := create("active", now.Add(-time.Hour), now.Add(time.Hour), true, 2)
	create("future", now.Add(time.Hour), now.Add(2*time.Hour), true, 1)
	create("expired", now.Add(-2*time.Hour), now.Add(-time.Hour), true, 1)
	private := create("private", now.Add(-time.Hour), now.Add(time.Hour), false, 0)

	var first response
	t.Run("lists only the active public banner without a token", func(t *testing.T) {
		ts := ts.with(t)
		first = ts.must(ts.call("GET", "/v1/public/banners", "", nil), 200)
		var out struct{ Items []map[string]any }
		first.json(t, &out)
		if len(out.Items) != 1 || out.Items[0]["id"] != active {
			t.Fatalf("items = %s, want only %s", first.body, active)
		}
		for _, internal := range []string{"image_key", "public", "starts_at", "ends_at", "created_by", "created_at", "updated_at"} {
			if _, ok := out.Items[0][internal]; ok {
				t.Errorf("the public banner has the internal field %s", internal)
			}
		}
		if first.header.Get("ETag") == "" || first.header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("ETag %q, Cache-Control %q", first.header.Get("ETag"), first.header.Get("Cache-Control"))
		}
		// The presigned URL downloads the image straight from MinIO, without any credentials.
		resp, err := http.Get(out.Items[0]["image_url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(got, png) {
			t.Fatalf("image_url answered %d with %d bytes", resp.StatusCode, len(got))
		}
	})
	t.Run("answers 304 to a matching If-None-Match", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/v1/public/banners", "", nil, withHeader("If-None-Match", first.header.Get("ETag"))), 304)
		if len(r.body) != 0 || r.header.Get("ETag") != first.header.Get("ETag") {
			t.Fatalf("304 with body %q and ETag %q", r.body, r.header.Get("ETag"))
		}
		ts.must(ts.call("GET", "/v1/public/banners", "", nil, withHeader("If-None-Match", `"stale"`)), 200)
	})
	t.Run("forbids employees and admins the ops endpoints", func(t *testing.T) {
		ts := ts.with(t)
		for _, token := range []string{who.zh, who.admin} {
			if r := ts.must(ts.call("GET", "/v1/ops/banners", token, nil), 403); r.problemCode() != "forbidden" {
				t.Fatalf("code %s", r.problemCode())
			}
		}
	})
	t.Run("lets ops list, change and delete banners", func(t *testing.T) {
		ts := ts.with(t)
		var all struct{ Items []map[string]any }
		ts.must(ts.call("GET", "/v1/ops/banners", who.ops, nil), 200).json(t, &all)
		if len(all.Items) != 4 {
			t.Fatalf("ops see %d banners, want 4", len(all.Items))
		}
		ts.must(ts.call("PATCH", "/v1/ops/banners/"+private, who.ops, map[string]any{"public": true}), 200)
		r := ts.must(ts.call("GET", "/v1/public/banners", "", nil, withHeader("If-None-Match", first.header.Get("ETag"))), 200)
		var out struct{ Items []struct{ ID string } }
		r.json(t, &out)
		if len(out.Items) != 2 || out.Items[0].ID != private || out.Items[1].ID != active {
			t.Fatalf("after publishing: %s, want [private active] by order", r.body)
		}
		r = ts.must(ts.call("PATCH", "/v1/ops/banners/"+active, who.ops, map[string]any{"link": "http://insecure.example"}), 400)
		if r.problemCode() != "invalid" {
			t.Fatalf("code %s", r.problemCode())
		}
		ts.must(ts.call("DELETE", "/v1/ops/banners/"+private, who.ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/banners/"+private, who.ops, nil), 404)
	})
	t.Run("rejects a banner that ends before it starts", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("POST", "/v1/ops/banners", who.ops, map[string]any{
			"title": "bad", "image_key": "banners/e2e.png", "starts_at": now, "ends_at": now.Add(-time.Minute),
		}), 400)
		var p struct{ Field string }
		_ = json.Unmarshal(r.body, &p)
		if p.Field != "ends_at" {
			t.Fatalf("field %q, want ends_at", p.Field)
		}
	})
}

func TestWhatsNew(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	who := ts.staff()
	const app = "com.example.portal"
	card := func(build int, zh, en string) map[string]any {
		return map[string]any{"app_id": app, "build_number": build,
			"title": map[string]string{"zh-CN": zh, "en": en}, "body": map[string]string{"zh-CN": zh + "。", "en": en + "."}}
	}
	ts.must(ts.call("POST", "/v1/ops/whats-new", who.ops, card(230, "旧功能", "Old")), 201)
	ts.must(ts.call("POST", "/v1/ops/whats-new", who.ops, card(231, "审批", "Approvals")), 201)
	ts.must(ts.call("POST", "/v1/ops/whats-new", who.ops, card(231, "通知", "Notifications")), 201)
	ts.must(ts.call("POST", "/v1/ops/whats-new", who.ops, map[string]any{"app_id": app, "build_number": 232,
		"title": map[string]string{"zh-CN": "仅中文"}, "body": map[string]string{"zh-CN": "只有中文。"}}), 201)

	type item struct {
		ID          string
		BuildNumber int `json:"build_number"`
		Order       int
		Title       string
	}
	list := func(ts *testServer, token, query string) []item {
		var out struct{ Items []item }
		ts.must(ts.call("GET", "/v1/whats-new?"+query, token, nil), 200).json(ts.t, &out)
		return out.Items
	}
	t.Run("returns the cards of the builds after from_build up to to_build, localized", func(t *testing.T) {
		ts := ts.with(t)
		en := list(ts, who.en, "app="+app+"&from_build=230&to_build=232")
		var titles []string
		for _, c := range en {
			titles = append(titles, c.Title)
		}
		if len(en) != 3 || titles[0] != "Approvals" || titles[1] != "Notifications" || titles[2] != "仅中文" ||
			en[0].Order != 0 || en[1].Order != 1 || en[2].BuildNumber != 232 {
			t.Fatalf("en cards = %+v", en)
		}
		zh := list(ts, who.zh, "app="+app+"&from_build=230&to_build=231")
		if len(zh) != 2 || zh[0].Title != "审批" {
			t.Fatalf("zh-CN cards = %+v", zh)
		}
		if none := list(ts, who.zh, "app="+app+"&from_build=232&to_build=232"); len(none) != 0 {
			t.Fatalf("an empty range gave %+v", none)
		}
	})
	t.Run("answers 400 for a bad range", func(t *testing.T) {
		ts := ts.with(t)
		for query, field := range map[string]string{
			"app=" + app + "&from_build=232&to_build=230": "to_build",
			"app=portal&from_build=1&to_build=2":          "app",
		} {
			r := ts.must(ts.call("GET", "/v1/whats-new?"+query, who.en, nil, offContract), 400)
			var p struct{ Code, Field string }
			_ = json.Unmarshal(r.body, &p)
			if p.Code != "invalid" || p.Field != field {
				t.Errorf("%s: %s", query, r.body)
			}
		}
	})
	t.Run("lets only ops manage cards", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/v1/ops/whats-new?app="+app, who.en, nil), 403)
		ts.must(ts.call("POST", "/v1/ops/whats-new", who.admin, card(240, "x", "x")), 403)
		var all struct {
			Items []struct {
				ID    string
				Order int
			}
		}
		ts.must(ts.call("GET", "/v1/ops/whats-new?app="+app, who.ops, nil), 200).json(t, &all)
		if len(all.Items) != 4 {
			t.Fatalf("ops see %d cards, want 4", len(all.Items))
		}
		taken := card(231, "重复", "Again")
		taken["order"] = 1
		ts.must(ts.call("POST", "/v1/ops/whats-new", who.ops, taken), 409)
		ts.must(ts.call("DELETE", "/v1/ops/whats-new/"+all.Items[0].ID, who.ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/whats-new/"+all.Items[0].ID, who.ops, nil), 404)
		if got := list(ts, who.en, "app="+app+"&from_build=0&to_build=300"); len(got) != 3 {
			t.Fatalf("after the delete: %+v", got)
		}
	})
}
