package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// inboxPage is the part of GET /v1/inbox the tests read.
type inboxPage struct {
	Items []struct {
		ID       string
		Category string
		Title    string
		Body     string
		DeepLink string `json:"deep_link"`
		Data     map[string]string
		ReadAt   *time.Time `json:"read_at"`
		Read     bool
	}
	NextCursor *string `json:"next_cursor"`
	Unread     int
}

func (ts *testServer) inbox(token, query string) inboxPage {
	ts.t.Helper()
	var page inboxPage
	ts.must(ts.call("GET", "/v1/inbox"+query, token, nil), 200).json(ts.t, &page)
	return page
}

func (ts *testServer) unread(token string) int {
	ts.t.Helper()
	var out struct{ Unread int }
	ts.must(ts.call("GET", "/v1/inbox/unread-count", token, nil), 200).json(ts.t, &out)
	return out.Unread
}

// member is a signed-in user of the inbox tests with the push tokens of their devices.
type member struct {
	id, token  string
	pushTokens []string
}

// newMember creates a user, signs them in and checks in one device per platform.
func (ts *testServer) newMember(adminToken, employeeNo, department, locale string, platforms ...string) member {
	ts.t.Helper()
	id, otp := ts.createUser(adminToken, map[string]any{
		"employee_no": employeeNo, "name": employeeNo, "department": department, "locale": locale,
	})
	s := ts.signIn(employeeNo, otp, employeeNo+"-passphrase", employeeNo+"-phone")
	m := member{id: id, token: s.AccessToken}
	for i, p := range platforms {
		dev := device(p)
		dev["locale"] = locale
		ts.must(ts.call("PUT", "/v1/devices/"+employeeNo+"-dev"+string(rune('a'+i)), s.AccessToken, dev), 200)
		m.pushTokens = append(m.pushTokens, dev["push_token"].(string))
	}
	return m
}

// deliver enqueues n through the server's engine and waits until the engine is done with it.
func (ts *testServer) deliver(n push.Notification) {
	ts.t.Helper()
	ctx := context.Background()
	if _, _, err := ts.main.push.Enqueue(ctx, n); err != nil {
		ts.t.Fatalf("enqueue %s: %v", n.Key, err)
	}
	eventually(ts.t, 30*time.Second, "notification "+n.Key+" done", func() bool {
		st, err := ts.main.push.Status(ctx, n.Key)
		return err == nil && st.State == push.StateDone
	})
}

func announcement(key string, aud push.Audience) push.Notification {
	return push.Notification{Key: key, Category: push.CategoryAnnouncement, Audience: aud,
		Title:    map[string]string{"en": "Office move", "zh-CN": "办公室搬迁"},
		Body:     map[string]string{"en": "We move on Monday.", "zh-CN": "周一搬迁。"},
		DeepLink: "mportal://announcements/" + key, Data: map[string]string{"announcement_id": key}}
}

func TestInbox(t *testing.T) {
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	creds, err := fake.WriteCredentialsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The production path: the credentials file names the project and the fake's token
	// endpoint; only the FCM endpoint itself is redirected.
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_FCM_CREDENTIALS_FILE": creds}),
		func(m *Main) { m.PushOptions = []option.ClientOption{option.WithEndpoint(fake.URL + "/v1")} })
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	alice := ts.newMember(admin, "E5001", "Field Ops", "en", "android", "ios")
	bob := ts.newMember(admin, "E5002", "Field Ops", "zh-CN", "android")
	carol := ts.newMember(admin, "E5003", "Sales", "en", "android")
	if !strings.Contains(ts.logs.String(), "push notifications on") {
		t.Fatalf("push is not on:\n%s", ts.logs.String())
	}

	ts.deliver(announcement("announcement:move", push.Audience{Departments: []string{"Field Ops"}}))

	t.Run("pushes exactly once to each device of the audience and to no one else", func(t *testing.T) {
		for _, tok := range append(append([]string{}, alice.pushTokens...), bob.pushTokens...) {
			if n := fake.Count(tok); n != 1 {
				t.Errorf("token %s got %d messages, want 1", tok, n)
			}
		}
		if n := fake.Count(carol.pushTokens[0]); n != 0 {
			t.Errorf("carol's device got %d messages", n)
		}
		if fake.Total() != 3 {
			t.Errorf("the fake accepted %d messages, want 3", fake.Total())
		}
		for _, m := range fake.Messages() {
			want := "Office move"
			if m.Token == bob.pushTokens[0] {
				want = "办公室搬迁"
			}
			if m.Title != want || m.Data["notification_id"] != "announcement:move" {
				t.Errorf("message to %s: title %q, data %v", m.Token, m.Title, m.Data)
			}
			if m.Authorization != "Bearer "+fcmfake.AccessToken {
				t.Errorf("message to %s was not authorized with the credentials file's token: %q", m.Token, m.Authorization)
			}
		}
	})
	t.Run("shows the item in each recipient's inbox in their locale", func(t *testing.T) {
		ts := ts.with(t)
		for _, c := range []struct {
			who   member
			title string
		}{{alice, "Office move"}, {bob, "办公室搬迁"}} {
			page := ts.inbox(c.who.token, "")
			if len(page.Items) != 1 || page.Unread != 1 || page.NextCursor != nil {
				t.Fatalf("inbox %+v", page)
			}
			it := page.Items[0]
			if it.ID != "announcement:move" || it.Title != c.title || it.Category != "announcement" || it.Read ||
				it.ReadAt != nil || it.DeepLink != "mportal://announcements/announcement:move" ||
				it.Data["announcement_id"] != "announcement:move" {
				t.Fatalf("item %+v", it)
			}
		}
		if page := ts.inbox(carol.token, ""); len(page.Items) != 0 || page.Unread != 0 {
			t.Fatalf("carol's inbox %+v", page)
		}
	})
	t.Run("marks one item read, and another user cannot", func(t *testing.T) {
		ts := ts.with(t)
		path := "/v1/inbox/" + url.PathEscape("announcement:move") + "/read"
		r := ts.must(ts.call("POST", path, carol.token, nil), 404)
		if r.problemCode() != "not_found" {
			t.Fatalf("code %q", r.problemCode())
		}
		if n := ts.unread(alice.token); n != 1 {
			t.Fatalf("alice's unread %d after carol's attempt", n)
		}
		for range 2 { // idempotent
			ts.must(ts.call("POST", path, alice.token, nil), 204)
		}
		if n := ts.unread(alice.token); n != 0 {
			t.Fatalf("unread %d after marking read", n)
		}
		if it := ts.inbox(alice.token, "").Items[0]; !it.Read || it.ReadAt == nil {
			t.Fatalf("item %+v", it)
		}
		if n := ts.unread(bob.token); n != 1 {
			t.Fatalf("bob's unread %d", n)
		}
		ts.must(ts.call("POST", "/v1/inbox/no-such-item/read", alice.token, nil), 404)
	})
	t.Run("marks everything read, and pages newest first", func(t *testing.T) {
		ts := ts.with(t)
		ts.deliver(announcement("announcement:canteen", push.Audience{UserIDs: []string{bob.id}}))
		if n := ts.unread(bob.token); n != 2 {
			t.Fatalf("bob's unread %d", n)
		}
		first := ts.inbox(bob.token, "?limit=1")
		if len(first.Items) != 1 || first.Items[0].ID != "announcement:canteen" || first.NextCursor == nil || first.Unread != 2 {
			t.Fatalf("first page %+v", first)
		}
		second := ts.inbox(bob.token, "?limit=1&cursor="+url.QueryEscape(*first.NextCursor))
		if len(second.Items) != 1 || second.Items[0].ID != "announcement:move" || second.NextCursor != nil {
			t.Fatalf("second page %+v", second)
		}
		ts.must(ts.call("POST", "/v1/inbox/read-all", bob.token, nil), 204)
		page := ts.inbox(bob.token, "")
		if page.Unread != 0 || len(page.Items) != 2 || !page.Items[0].Read || !page.Items[1].Read {
			t.Fatalf("after read-all %+v", page)
		}
		r := ts.must(ts.call("GET", "/v1/inbox?cursor=bogus!", bob.token, nil), 400)
		if r.problemCode() != "invalid" {
			t.Fatalf("code %q", r.problemCode())
		}
	})
	t.Run("keeps a user with a one-time password out", func(t *testing.T) {
		ts := ts.with(t)
		_, otp := ts.createUser(admin, map[string]any{"employee_no": "E5004", "name": "Dave"})
		pending := ts.login("E5004", otp, "dave-phone")
		r := ts.must(ts.call("GET", "/v1/inbox", pending.AccessToken, nil), 403)
		if r.problemCode() != "password_change_required" {
			t.Fatalf("code %q", r.problemCode())
		}
	})
	t.Run("round-trips notification preferences", func(t *testing.T) {
		ts := ts.with(t)
		var prefs map[string]any
		ts.must(ts.call("GET", "/v1/me/notification-preferences", alice.token, nil), 200).json(t, &prefs)
		if off, _ := prefs["off"].([]any); off == nil || len(off) != 0 || prefs["quiet_start"] != nil || prefs["timezone"] != nil {
			t.Fatalf("defaults %v", prefs)
		}
		want := map[string]any{"off": []any{"release", "training"}, "quiet_start": "22:00", "quiet_end": "07:30",
			"timezone": "Asia/Shanghai"}
		in := map[string]any{"off": []string{"training", "release"}, "quiet_start": "22:00", "quiet_end": "07:30",
			"timezone": "Asia/Shanghai"}
		ts.must(ts.call("PUT", "/v1/me/notification-preferences", alice.token, in), 200).json(t, &prefs)
		if diff := cmp.Diff(want, prefs); diff != "" {
			t.Fatalf("PUT answered (-want +got):\n%s", diff)
		}
		ts.must(ts.call("GET", "/v1/me/notification-preferences", alice.token, nil), 200).json(t, &prefs)
		if diff := cmp.Diff(want, prefs); diff != "" {
			t.Fatalf("GET answered (-want +got):\n%s", diff)
		}
		var bobs map[string]any
		ts.must(ts.call("GET", "/v1/me/notification-preferences", bob.token, nil), 200).json(t, &bobs)
		if off, _ := bobs["off"].([]any); len(off) != 0 {
			t.Fatalf("bob sees %v", bobs)
		}
	})
	t.Run("rejects bad preferences with the field named", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
			off   bool // the contract's schema already forbids the body
		}{
			{"an unknown category", map[string]any{"off": []string{"lottery"}}, "off", true},
			{"a malformed time", map[string]any{"off": []string{}, "quiet_start": "25:00", "quiet_end": "07:00"}, "quiet_start", true},
			{"quiet hours without an end", map[string]any{"off": []string{}, "quiet_start": "22:00"}, "quiet_end", false},
			{"an unknown time zone", map[string]any{"off": []string{}, "timezone": "Mars/Olympus_Mons"}, "timezone", false},
		} {
			t.Run(c.name, func(t *testing.T) {
				ts := ts.with(t)
				var r response
				if c.off {
					r = ts.call("PUT", "/v1/me/notification-preferences", alice.token, c.body, offContract)
				} else {
					r = ts.call("PUT", "/v1/me/notification-preferences", alice.token, c.body)
				}
				ts.must(r, 400)
				if r.problemCode() != "invalid" || !strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
					t.Fatalf("body %s", r.body)
				}
			})
		}
	})
}

func TestInboxWithoutPush(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	if !strings.Contains(ts.logs.String(), "push notifications off") {
		t.Fatalf("no push-off line:\n%s", ts.logs.String())
	}
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	erin := ts.newMember(admin, "E6001", "Field Ops", "zh-CN", "android")

	ts.deliver(announcement("announcement:offline", push.Audience{All: true}))

	page := ts.inbox(erin.token, "")
	if len(page.Items) != 1 || page.Items[0].Title != "办公室搬迁" || page.Unread != 1 {
		t.Fatalf("inbox without push %+v", page)
	}
}

// A phone whose user signed out of it (or whose session was revoked) gets no more of their
// pushes: its token is dropped when the user's last session on it ends. Before, only disabling
// the user stopped them, and a lost or shared phone kept showing approvals and announcements.
func TestASignedOutPhoneGetsNoPush(t *testing.T) {
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "laptop-1").AccessToken
	_, otp := ts.createUser(admin, map[string]any{"employee_no": "E5101", "name": "Dana", "department": "Field Ops"})
	dana := ts.signIn("E5101", otp, "E5101-passphrase", "dana-phone")
	phone := device("android")
	ts.must(ts.call("PUT", "/v1/devices/dana-phone", dana.AccessToken, phone), 200)
	keep := ts.newMember(admin, "E5102", "Field Ops", "en", "android") // still signed in

	ts.deliver(announcement("announcement:before", push.Audience{Departments: []string{"Field Ops"}}))
	if n := fake.Count(phone["push_token"].(string)); n != 1 {
		t.Fatalf("the signed-in phone got %d messages, want 1", n)
	}
	// Dana signs out of the phone: its other session (the one-time password's) first, then this one.
	var sessions struct {
		Items []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"items"`
	}
	ts.must(ts.call("GET", "/v1/auth/sessions", dana.AccessToken, nil), 200).json(t, &sessions)
	for _, s := range sessions.Items {
		if !s.Current {
			ts.must(ts.call("DELETE", "/v1/auth/sessions/"+s.ID, dana.AccessToken, nil), 204)
		}
	}
	ts.must(ts.call("POST", "/v1/auth/logout", dana.AccessToken, nil), 204)

	ts.deliver(announcement("announcement:after", push.Audience{Departments: []string{"Field Ops"}}))
	if n := fake.Count(phone["push_token"].(string)); n != 1 {
		t.Errorf("the signed-out phone got %d messages, want only the one from before", n)
	}
	if n := fake.Count(keep.pushTokens[0]); n != 2 {
		t.Errorf("a signed-in phone got %d messages, want 2", n)
	}
}
