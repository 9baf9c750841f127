package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// opsAnnouncement is the part of an ops Announcement the tests read.
type opsAnnouncement struct {
	ID          string
	Title       string
	BodyHTML    string `json:"body_html"`
	Excerpt     string
	Status      string
	PublishedAt *time.Time `json:"published_at"`
}

type announcementStats struct {
	AudienceSize int `json:"audience_size"`
	Pushed       int
	Read         int
	Acknowledged int
	ByDepartment []struct {
		Department                   string
		Audience, Read, Acknowledged int
	} `json:"by_department"`
}

// fakeFCM starts a fake FCM server and returns it with the server options that point Main at it.
func fakeFCM(t *testing.T) (*fcmfake.Server, map[string]string, func(*Main)) {
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	creds, err := fake.WriteCredentialsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return fake, map[string]string{"MPORTAL_FCM_CREDENTIALS_FILE": creds},
		func(m *Main) { m.PushOptions = []option.ClientOption{option.WithEndpoint(fake.URL + "/v1")} }
}

// newOps creates and signs in a user with role ops.
func (ts *testServer) newOps(adminToken, employeeNo string) string {
	ts.t.Helper()
	_, otp := ts.createUser(adminToken, map[string]any{
		"employee_no": employeeNo, "name": "Olivia Ops", "department": "Comms", "roles": []string{"employee", "ops"},
	})
	return ts.signIn(employeeNo, otp, employeeNo+"-passphrase", employeeNo+"-laptop").AccessToken
}

// pushDone waits until the engine is done with notification key.
func (ts *testServer) pushDone(key string) {
	ts.t.Helper()
	eventually(ts.t, 30*time.Second, "notification "+key+" done", func() bool {
		st, err := ts.main.push.Status(context.Background(), key)
		return err == nil && st.State == push.StateDone
	})
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func withContentType(ct string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Content-Type", ct) }
}

// announcementFixture is a server (pushing to a fake FCM) with ops and three employees with
// phones: alice (two devices) and bob in Field Ops, carol in Sales. Each subtest of
// TestAnnouncements builds its own.
type announcementFixture struct {
	ts                *testServer
	fake              *fcmfake.Server
	admin, ops        string
	alice, bob, carol member
}

func newAnnouncementFixture(t *testing.T) *announcementFixture {
	t.Helper()
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	return &announcementFixture{ts: ts, fake: fake, admin: admin, ops: ts.newOps(admin, "E7000"),
		alice: ts.newMember(admin, "E7001", "Field Ops", "en", "android", "ios"),
		bob:   ts.newMember(admin, "E7002", "Field Ops", "zh-CN", "android"),
		carol: ts.newMember(admin, "E7003", "Sales", "en", "android")}
}

// image uploads a PNG as ops and returns its key.
func (f *announcementFixture) image(t *testing.T) string {
	t.Helper()
	var out struct{ Key string }
	f.ts.with(t).must(f.ts.call("POST", "/v1/ops/images", f.ops, string(pngBytes(t)), withContentType("image/png")), 201).json(t, &out)
	return out.Key
}

// officeMove publishes the important, pinned "Office move" to Field Ops now, with a cover image,
// and waits until its pushes are sent.
func (f *announcementFixture) officeMove(t *testing.T) opsAnnouncement {
	t.Helper()
	ts := f.ts.with(t)
	var ann opsAnnouncement
	ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
		"title": "Office move", "body": "We move to **B**.\n\n<script>alert(1)</script>\n\n[map](javascript:alert(1))",
		"audience": map[string]any{"departments": []string{"Field Ops"}}, "importance": "important",
		"pinned": true, "cover_image": f.image(t),
	}), 201).json(t, &ann)
	ts.pushDone("announcement:" + ann.ID + ":publish")
	return ann
}

// canteen publishes a normal announcement to carol and waits until its push is sent.
func (f *announcementFixture) canteen(t *testing.T) opsAnnouncement {
	t.Helper()
	ts := f.ts.with(t)
	var normal opsAnnouncement
	ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
		"title": "Canteen", "body": "Closed on Friday.", "audience": map[string]any{"user_ids": []string{f.carol.id}},
	}), 201).json(t, &normal)
	ts.pushDone("announcement:" + normal.ID + ":publish")
	return normal
}

// TestAnnouncements runs company announcements through HTTP: images, publishing with pushes to
// the audience, reading, acknowledging, reminding, editing and withdrawing. Each subtest starts
// its own server, so any of them runs alone.
func TestAnnouncements(t *testing.T) {
	t.Run("keeps employees and admins out of the ops endpoints", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		for _, tok := range []string{f.alice.token, f.admin} {
			ts.must(ts.call("GET", "/v1/ops/announcements", tok, nil), 403)
			r := ts.must(ts.call("POST", "/v1/ops/announcements", tok, map[string]any{
				"title": "x", "body": "y", "audience": map[string]any{"all": true}}), 403)
			if r.problemCode() != "forbidden" {
				t.Fatalf("code %q", r.problemCode())
			}
			ts.must(ts.call("POST", "/v1/ops/images", tok, string(pngBytes(t)), withContentType("image/png")), 403)
		}
	})
	t.Run("refuses a time JSON cannot write, and the feed stays readable", func(t *testing.T) {
		// 9999-12-31T23:30:00-01:00 is in the year 10000 in UTC: stored, the announcement made
		// the create, the ops list and its whole audience's feed answer 500.
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		for _, field := range []string{"expires_at", "publish_at"} {
			r := ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
				"title": "Far", "body": "x", "audience": map[string]any{"all": true}, field: "9999-12-31T23:30:00-01:00"}), 400)
			if r.problemCode() != "invalid" || !strings.Contains(string(r.body), field) {
				t.Fatalf("%s: %s", field, r.body)
			}
		}
		ts.must(ts.call("GET", "/v1/announcements", f.alice.token, nil), 200)
		ts.must(ts.call("GET", "/v1/ops/announcements", f.ops, nil), 200)
	})
	t.Run("stores an image and hands out a short-lived link to it", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		img := pngBytes(t)
		var out struct{ Key string }
		ts.must(ts.call("POST", "/v1/ops/images", f.ops, string(img), withContentType("image/png")), 201).json(t, &out)
		imageKey := out.Key
		var link struct {
			URL       string
			ExpiresAt time.Time `json:"expires_at"`
		}
		ts.must(ts.call("GET", "/v1/images/"+imageKey, f.carol.token, nil, withHeader("Accept", "application/json")), 200).json(t, &link)
		noFollow := *ts.client
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		direct := *ts
		direct.client = &noFollow
		r := direct.must(direct.call("GET", "/v1/images/"+imageKey, f.carol.token, nil), 302)
		resp, err := http.Get(r.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, img) {
			t.Fatalf("presigned GET answered %d with %d bytes", resp.StatusCode, len(got))
		}
		ts.must(ts.call("GET", "/v1/images/0123456789abcdef0123456789abcdef.png", f.carol.token, nil), 404)
	})
	t.Run("refuses an image whose bytes or type are wrong", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		r := ts.must(ts.call("POST", "/v1/ops/images", f.ops, "<svg onload=alert(1)>", withContentType("image/png")), 400)
		if r.problemCode() != "invalid" {
			t.Fatalf("code %q", r.problemCode())
		}
		ts.must(ts.call("POST", "/v1/ops/images", f.ops, "GIF89a", withContentType("image/gif"), offContract), 415)
	})
	t.Run("publishes now with one push to each device of the audience", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		imageKey := f.image(t)
		var ann opsAnnouncement
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": "x", "body": "y", "audience": map[string]any{}}), 400)
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": "Office move", "body": "We move to **B**.\n\n<script>alert(1)</script>\n\n[map](javascript:alert(1))",
			"audience": map[string]any{"departments": []string{"Field Ops"}}, "importance": "important",
			"pinned": true, "cover_image": imageKey,
		}), 201).json(t, &ann)
		if ann.Status != "published" || ann.PublishedAt == nil || strings.Contains(ann.BodyHTML, "<script") ||
			strings.Contains(ann.BodyHTML, "javascript:") || !strings.Contains(ann.BodyHTML, "<strong>B</strong>") {
			t.Fatalf("announcement %+v", ann)
		}
		ts.pushDone("announcement:" + ann.ID + ":publish")
		for _, tok := range append(append([]string{}, f.alice.pushTokens...), f.bob.pushTokens...) {
			if n := f.fake.Count(tok); n != 1 {
				t.Errorf("token %s got %d messages, want 1", tok, n)
			}
		}
		if n := f.fake.Count(f.carol.pushTokens[0]); n != 0 {
			t.Errorf("carol got %d messages", n)
		}
		for _, m := range f.fake.Messages() {
			if m.Title != "Office move" || m.Data["announcement_id"] != ann.ID || m.Data["deep_link"] != "mportal://announcements/"+ann.ID {
				t.Errorf("message %+v", m)
			}
		}
	})
	t.Run("publishes once per Idempotency-Key, however often the request is replayed", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		body := map[string]any{"title": "Keyed", "body": "Once.", "audience": map[string]any{"user_ids": []string{f.carol.id}}}
		key := withHeader("Idempotency-Key", `"5a1b6c1e-0f1d-4d1a-9a55-2b7e3c9d0f11"`)
		var first, again opsAnnouncement
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, body, key), 201).json(t, &first)
		// Replays race each other, as retries from a client whose first answer was lost.
		var wg sync.WaitGroup
		ids := make([]string, 6)
		for i := range ids {
			wg.Go(func() {
				var a opsAnnouncement
				r := ts.call("POST", "/v1/ops/announcements", f.ops, body, key)
				if r.status != 201 {
					t.Errorf("replay answered %d", r.status)
					return
				}
				r.json(t, &a)
				ids[i] = a.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != first.ID {
				t.Fatalf("a replay answered %q, the first %q", id, first.ID)
			}
		}
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, body, key), 201).json(t, &again)
		if again.ID != first.ID || again.Status != "published" {
			t.Fatalf("replay %+v, first %+v", again, first)
		}
		changed := map[string]any{"title": "Keyed, edited", "body": "Once.", "audience": map[string]any{"all": true}}
		if r := ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, changed, key), 422); r.problemCode() != "idempotency_key_reused" {
			t.Fatalf("code %q", r.problemCode())
		}
		var list struct{ Items []opsAnnouncement }
		ts.must(ts.call("GET", "/v1/ops/announcements", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 {
			t.Fatalf("%d announcements listed", len(list.Items))
		}
		ts.pushDone("announcement:" + first.ID + ":publish")
		if n := f.fake.Count(f.carol.pushTokens[0]); n != 1 {
			t.Fatalf("carol got %d pushes", n)
		}
	})
	t.Run("shows it to the audience only", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		ann := f.officeMove(t)
		var feed struct{ Items []struct{ ID, Title string } }
		ts.must(ts.call("GET", "/v1/announcements", f.alice.token, nil), 200).json(t, &feed)
		if len(feed.Items) != 1 || feed.Items[0].ID != ann.ID {
			t.Fatalf("alice's feed %+v", feed)
		}
		ts.must(ts.call("GET", "/v1/announcements", f.carol.token, nil), 200).json(t, &feed)
		if len(feed.Items) != 0 {
			t.Fatalf("carol's feed %+v", feed)
		}
		for _, path := range []string{"", "/read", "/ack"} {
			method := "POST"
			if path == "" {
				method = "GET"
			}
			ts.must(ts.call(method, "/v1/announcements/"+ann.ID+path, f.carol.token, nil), 404)
		}
	})
	t.Run("records reads and acknowledgements once and counts them", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		ann := f.officeMove(t)
		for range 2 {
			ts.must(ts.call("POST", "/v1/announcements/"+ann.ID+"/ack", f.alice.token, nil), 204)
		}
		var d struct {
			BodyHTML       string     `json:"body_html"`
			ReadAt         *time.Time `json:"read_at"`
			AcknowledgedAt *time.Time `json:"acknowledged_at"`
		}
		ts.must(ts.call("GET", "/v1/announcements/"+ann.ID, f.alice.token, nil), 200).json(t, &d)
		if d.ReadAt == nil || d.AcknowledgedAt == nil || d.BodyHTML != ann.BodyHTML {
			t.Fatalf("alice's view %+v", d)
		}
		var st announcementStats
		ts.must(ts.call("GET", "/v1/ops/announcements/"+ann.ID+"/stats", f.ops, nil), 200).json(t, &st)
		want := announcementStats{AudienceSize: 2, Pushed: 3, Read: 1, Acknowledged: 1}
		want.ByDepartment = append(want.ByDepartment, struct {
			Department                   string
			Audience, Read, Acknowledged int
		}{"Field Ops", 2, 1, 1})
		if diff := cmp.Diff(want, st); diff != "" {
			t.Fatalf("stats (-want +got):\n%s", diff)
		}
	})
	t.Run("reminds only the unread, once a day", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		ann := f.officeMove(t)
		ts.must(ts.call("POST", "/v1/announcements/"+ann.ID+"/ack", f.alice.token, nil), 204)
		var rem struct{ Number, Recipients int }
		ts.must(ts.call("POST", "/v1/ops/announcements/"+ann.ID+"/remind", f.ops, nil), 200).json(t, &rem)
		if rem.Number != 1 || rem.Recipients != 1 {
			t.Fatalf("reminder %+v", rem)
		}
		ts.pushDone("announcement:" + ann.ID + ":remind:1")
		if a, b := f.fake.Count(f.alice.pushTokens[0]), f.fake.Count(f.bob.pushTokens[0]); a != 1 || b != 2 {
			t.Fatalf("alice got %d, bob %d messages", a, b)
		}
		r := ts.must(ts.call("POST", "/v1/ops/announcements/"+ann.ID+"/remind", f.ops, nil), 409)
		if !strings.Contains(string(r.body), "next one can be sent") {
			t.Fatalf("body %s", r.body)
		}
		ts.must(ts.call("POST", "/v1/announcements/"+ann.ID+"/read", f.bob.token, nil), 204)
	})
	t.Run("asks for acknowledgement of important announcements only", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		normal := f.canteen(t)
		ts.must(ts.call("POST", "/v1/announcements/"+normal.ID+"/ack", f.carol.token, nil), 409)
		ts.must(ts.call("POST", "/v1/announcements/"+normal.ID+"/read", f.carol.token, nil), 204)
	})
	t.Run("edits without pushing again and withdraws", func(t *testing.T) {
		f := newAnnouncementFixture(t)
		ts := f.ts.with(t)
		ann := f.officeMove(t)
		f.canteen(t)
		before := f.fake.Total()
		var edited opsAnnouncement
		ts.must(ts.call("PATCH", "/v1/ops/announcements/"+ann.ID, f.ops, map[string]any{"title": "Office move (update)"}), 200).json(t, &edited)
		if edited.Title != "Office move (update)" || edited.Status != "published" {
			t.Fatalf("edited %+v", edited)
		}
		ts.must(ts.call("PATCH", "/v1/ops/announcements/"+ann.ID, f.ops, map[string]any{"publish_at": time.Now().Add(time.Hour)}), 409)
		var list struct{ Items []opsAnnouncement }
		ts.must(ts.call("GET", "/v1/ops/announcements", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("ops list %+v", list)
		}
		var w opsAnnouncement
		ts.must(ts.call("POST", "/v1/ops/announcements/"+ann.ID+"/withdraw", f.ops, nil), 200).json(t, &w)
		ts.must(ts.call("GET", "/v1/ops/announcements/"+ann.ID, f.ops, nil), 200).json(t, &w)
		if w.Status != "withdrawn" {
			t.Fatalf("status %q", w.Status)
		}
		ts.must(ts.call("GET", "/v1/announcements/"+ann.ID, f.alice.token, nil), 404)
		if f.fake.Total() != before {
			t.Fatalf("the edit or withdrawal pushed %d messages", f.fake.Total()-before)
		}
	})
}

// TestScheduledAnnouncementAcrossInstances runs two servers on one database: a scheduled
// announcement is published by exactly one of them, and every device gets exactly one push.
func TestScheduledAnnouncementAcrossInstances(t *testing.T) {
	fake, extra, configure := fakeFCM(t)
	env := testEnv(t, extra)
	// Both instances on one test clock, moved past the publish time by the test: scheduled a
	// moment ahead on the wall clock, a slow create could land after it and publish at once.
	clock := testenv.NewClock(time.Now())
	clock.Run()
	onClock := func(m *Main) { m.Clock = clock.Now }
	first := startServer(t, env, configure, onClock)
	second := map[string]string{}
	for k, v := range env {
		second[k] = v
	}
	second["MPORTAL_DATA_DIR"] = t.TempDir()
	second["MPORTAL_JWT_KEY_FILES"] = first.main.Config.DefaultJWTKeyFile()
	other := startServer(t, second, configure, onClock)

	admin := first.signIn("admin", first.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	ops := first.newOps(admin, "E8000")
	dan := first.newMember(admin, "E8001", "Field Ops", "en", "android", "ios")
	eve := first.newMember(admin, "E8002", "Field Ops", "zh-CN", "android")

	var ann opsAnnouncement
	first.must(first.call("POST", "/v1/ops/announcements", ops, map[string]any{
		"title": "All hands", "body": "Friday at 10.", "audience": map[string]any{"departments": []string{"Field Ops"}},
		"publish_at": clock.Now().Add(5 * time.Minute).UTC(),
	}), 201).json(t, &ann)
	if ann.Status != "scheduled" {
		t.Fatalf("status %q", ann.Status)
	}
	// The second instance reads the same announcement with the same signing key.
	other.must(other.call("GET", "/v1/ops/announcements/"+ann.ID, ops, nil), 200)
	clock.Advance(5*time.Minute + time.Second)

	tokens := append(append([]string{}, dan.pushTokens...), eve.pushTokens...)
	eventually(t, 30*time.Second, "every device pushed", func() bool {
		for _, tok := range tokens {
			if fake.Count(tok) == 0 {
				return false
			}
		}
		return true
	})
	first.pushDone("announcement:" + ann.ID + ":publish")
	for _, ts := range []*testServer{first, other} {
		eventually(t, 30*time.Second, "both instances see it published", func() bool {
			var a opsAnnouncement
			ts.must(ts.call("GET", "/v1/ops/announcements/"+ann.ID, ops, nil), 200).json(t, &a)
			return a.Status == "published"
		})
	}
	for _, tok := range tokens {
		if n := fake.Count(tok); n != 1 {
			t.Errorf("token %s got %d messages, want 1", tok, n)
		}
	}
	if fake.Total() != len(tokens) {
		t.Errorf("the fake accepted %d messages, want %d", fake.Total(), len(tokens))
	}
	var feed struct{ Items []struct{ ID string } }
	first.must(first.call("GET", "/v1/announcements", eve.token, nil), 200).json(t, &feed)
	if len(feed.Items) != 1 || feed.Items[0].ID != ann.ID {
		t.Fatalf("eve's feed %+v", feed)
	}
}
