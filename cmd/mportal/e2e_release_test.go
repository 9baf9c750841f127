package main

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
	"github.com/mportal/mportal/push/fcmfake"
)

// releaseFixture is a server (pushing to a fake FCM) with ops, an employee of Sales with a phone
// (the tester) and one of IT. Each subtest of TestReleaseEndToEnd builds its own.
type releaseFixture struct {
	ts                                *testServer
	fake                              *fcmfake.Server
	admin                             string // the admin's token
	ops, tester, testerToken, itToken string
	it                                string // the IT employee's id
	phone                             map[string]any
}

func newReleaseFixture(t *testing.T) *releaseFixture {
	t.Helper()
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.adminToken()
	f := &releaseFixture{ts: ts, fake: fake, admin: admin, ops: ts.newOps(admin, "REL-OPS"), phone: device("android")}
	f.tester, f.testerToken = ts.releaseUser(admin, "REL-E1", "Sales")
	f.it, f.itToken = ts.releaseUser(admin, "REL-IT", "IT")
	ts.must(ts.call("PUT", "/v1/devices/phone-1", f.testerToken, f.phone), 200)
	return f
}

// fieldApp creates the app "field": alpha for IT, a self opt-in beta for one, and stable.
func (f *releaseFixture) fieldApp(t *testing.T) {
	t.Helper()
	ts := f.ts.with(t)
	ts.createApp(f.ops, "field")
	ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha", f.ops, map[string]any{"departments": []string{"IT"}}), 200)
	ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta", f.ops, map[string]any{"self_opt_in": true, "cap": 1}), 200)
}

// build uploads an APK of "field" with build number n.
func (f *releaseFixture) build(t *testing.T, n int64) e2eBuild {
	t.Helper()
	return f.ts.with(t).uploadBuild(f.ops, "field", "android", artifacttest.APK{Package: appPackage("field"), Build: n}.Bytes(t))
}

// joinBeta has the tester take the beta channel's one seat.
func (f *releaseFixture) joinBeta(t *testing.T) {
	t.Helper()
	f.ts.with(t).must(f.ts.call("POST", "/v1/apps/field/channels/beta/join", f.testerToken, nil), 200)
}

// TestReleaseEndToEnd runs app distribution's management side through HTTP: ops create an app,
// set up its channels, upload builds through a presigned PUT into the real MinIO, publish a
// staged release to beta with a push to its members, and drive the rollout; employees see,
// join and leave channels; none of the ops endpoints let an employee in. Each subtest starts its
// own server, so any of them runs alone.
func TestReleaseEndToEnd(t *testing.T) {
	t.Run("ops create an app with its three channels", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		ts.createApp(f.ops, "field")
		ts.must(ts.call("POST", "/v1/ops/apps", f.ops, map[string]any{"id": "field", "name": "x", "android_package": "com.a.b"}), 409)
		var list struct{ Items []struct{ ID string } }
		ts.must(ts.call("GET", "/v1/ops/apps", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != "field" {
			t.Fatalf("apps = %+v", list)
		}
		var app struct{ Name string }
		ts.must(ts.call("PATCH", "/v1/ops/apps/field", f.ops, map[string]any{"name": "Field Service"}), 200)
		ts.must(ts.call("GET", "/v1/ops/apps/field", f.ops, nil), 200).json(t, &app)
		if app.Name != "Field Service" {
			t.Fatalf("app = %+v", app)
		}
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha", f.ops, map[string]any{"departments": []string{"IT"}}), 200)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta", f.ops, map[string]any{"self_opt_in": true, "cap": 1}), 200)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/stable", f.ops, map[string]any{"cap": 3}), 400)
		var chs struct{ Items []struct{ Name string } }
		ts.must(ts.call("GET", "/v1/ops/apps/field/channels", f.ops, nil), 200).json(t, &chs)
		if len(chs.Items) != 3 {
			t.Fatalf("channels = %+v", chs)
		}
	})
	t.Run("employees cannot manage distribution", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/ops/apps", map[string]any{"id": "mine", "name": "Mine", "android_package": "com.a.b"}},
			{"POST", "/v1/ops/apps/field/builds/uploads", map[string]any{"platform": "android", "size": 100}},
			{"POST", "/v1/ops/apps/field/releases", map[string]any{"platform": "android", "channel": "beta", "build_id": "android-1", "percent": 10}},
			{"PUT", "/v1/ops/apps/field/channels/beta/members/" + f.tester, nil},
		} {
			if r := ts.must(ts.call(c.method, c.path, f.testerToken, c.body), 403); r.problemCode() != "forbidden" {
				t.Errorf("%s %s: %s", c.method, c.path, r.body)
			}
		}
	})
	t.Run("a non-member cannot see the alpha channel", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		var apps struct {
			Items []struct {
				Channels []struct{ Name string } `json:"channels"`
			}
		}
		ts.must(ts.call("GET", "/v1/apps", f.testerToken, nil), 200).json(t, &apps)
		if len(apps.Items) != 1 || len(apps.Items[0].Channels) != 2 {
			t.Fatalf("apps = %+v", apps)
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/alpha/join", f.testerToken, nil), 404)
		ts.must(ts.call("GET", "/v1/apps", f.itToken, nil), 200).json(t, &apps)
		if len(apps.Items[0].Channels) != 3 {
			t.Fatalf("IT sees %+v", apps)
		}
	})
	t.Run("ops upload builds through a presigned PUT", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		b1 := ts.uploadBuild(f.ops, "field", "android", artifacttest.APK{Package: appPackage("field"), Build: 240, Version: "2.4.0"}.Bytes(t))
		if b1.ID != "android-240" || b1.Version != "2.4.0" || len(b1.SHA256) != 64 || b1.NotesHTML["en"] == "" {
			t.Fatalf("build = %+v", b1)
		}
		ts.uploadBuild(f.ops, "field", "android", artifacttest.APK{Package: appPackage("field"), Build: 241}.Bytes(t))
		for _, c := range []struct {
			data []byte
			code string
		}{
			{artifacttest.APK{Package: appPackage("field"), Build: 240}.Bytes(t), "conflict"},
			{artifacttest.APK{Package: "com.other.app", Build: 1}.Bytes(t), "invalid"},
			{artifacttest.Bomb(t), ""},
		} {
			key := ts.putUpload(f.ops, "field", "android", c.data)
			r := ts.call("POST", "/v1/ops/apps/field/builds", f.ops, map[string]any{"upload_key": key})
			if r.status/100 != 4 || (c.code != "" && r.problemCode() != c.code) {
				t.Errorf("want a %q problem, got %d %s", c.code, r.status, r.body)
			}
		}
		var list struct{ Items []e2eBuild }
		ts.must(ts.call("GET", "/v1/ops/apps/field/builds?platform=android", f.ops, nil), 200).json(t, &list)
		if len(list.Items) != 2 || list.Items[0].ID != "android-241" {
			t.Fatalf("builds = %+v", list.Items)
		}
		var edited e2eBuild
		ts.must(ts.call("PATCH", "/v1/ops/apps/field/builds/android-240", f.ops, map[string]any{
			"notes": map[string]string{"en": "Faster **sync**", "zh-CN": "同步更快"}}), 200).json(t, &edited)
		if edited.NotesHTML["en"] != "<p>Faster <strong>sync</strong></p>\n" {
			t.Fatalf("notes = %+v", edited.NotesHTML)
		}
	})
	t.Run("a user joins the capped beta and the next one finds it full", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		var v struct {
			Member   bool `json:"member"`
			CanLeave bool `json:"can_leave"`
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/beta/join", f.testerToken, nil), 200).json(t, &v)
		if !v.Member || !v.CanLeave {
			t.Fatalf("join = %+v", v)
		}
		if r := ts.must(ts.call("POST", "/v1/apps/field/channels/beta/join", f.itToken, nil), 409); r.problemCode() != "conflict" {
			t.Fatalf("second join: %s", r.body)
		}
		var chs struct {
			Items []struct {
				Name      string
				SeatsLeft *int `json:"seats_left"`
			}
		}
		ts.must(ts.call("GET", "/v1/apps/field/channels", f.testerToken, nil), 200).json(t, &chs)
		if chs.Items[0].Name != "beta" || chs.Items[0].SeatsLeft == nil || *chs.Items[0].SeatsLeft != 0 {
			t.Fatalf("channels = %+v", chs)
		}
	})
	t.Run("publishing to beta with notify pushes a release notification to the member", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		b1 := f.build(t, 240)
		f.joinBeta(t)
		var tr e2eTrack
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", f.ops, map[string]any{
			"platform": "android", "channel": "beta", "build_id": b1.ID, "percent": 10, "notify": true,
		}), 201).json(t, &tr)
		relID, _, _ := tr.release(t, b1.ID)
		ts.pushDone("release:" + relID)
		if n := f.fake.Count(f.phone["push_token"].(string)); n != 1 {
			t.Fatalf("the beta member got %d pushes", n)
		}
		for _, m := range f.fake.Messages() {
			if m.Data["release_id"] != relID || m.Data["category"] != "release" {
				t.Errorf("message %+v", m)
			}
		}
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", f.ops, map[string]any{
			"platform": "android", "channel": "beta", "build_id": b1.ID, "percent": 20}), 409)
	})
	t.Run("ops raise, halt, resume and complete the rollout", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		b1 := f.build(t, 240)
		var published e2eTrack
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", f.ops, map[string]any{
			"platform": "android", "channel": "beta", "build_id": b1.ID, "percent": 10}), 201).json(t, &published)
		relID, _, _ := published.release(t, b1.ID)
		base := "/v1/ops/apps/field/tracks/android/beta/releases/" + relID
		steps := []struct {
			action, state string
			body          any
			percent       float64
		}{
			{"raise", "active", map[string]any{"percent": 50}, 50},
			{"halt", "halted", nil, 50},
			{"resume", "active", nil, 50},
			{"complete", "completed", nil, 100},
		}
		for _, st := range steps {
			var tr e2eTrack
			ts.must(ts.call("POST", base+"/"+st.action, f.ops, st.body), 200).json(t, &tr)
			if _, state, pct := tr.release(t, b1.ID); state != st.state || pct != st.percent {
				t.Fatalf("after %s: %s at %g%%", st.action, state, pct)
			}
		}
		ts.must(ts.call("POST", base+"/halt", f.ops, nil), 200)
		ts.must(ts.call("POST", base+"/halt", f.ops, nil), 409)
		ts.must(ts.call("POST", base+"/raise", f.ops, map[string]any{"percent": 60}), 409)
		var tr e2eTrack
		ts.must(ts.call("PUT", "/v1/ops/apps/field/tracks/android/beta/min-build", f.ops, map[string]any{"min_build": 240}), 200).json(t, &tr)
		if tr.MinBuild != 240 {
			t.Fatalf("track = %+v", tr)
		}
		var tracks struct{ Items []e2eTrack }
		ts.must(ts.call("GET", "/v1/ops/apps/field/tracks", f.ops, nil), 200).json(t, &tracks)
		if len(tracks.Items) != 1 || tracks.Items[0].MinBuild != 240 || len(tracks.Items[0].Releases) != 1 {
			t.Fatalf("tracks = %+v", tracks.Items)
		}
	})
	t.Run("a build in a live release cannot be deleted, an unreleased one can", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		b1, b2 := f.build(t, 240), f.build(t, 241)
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", f.ops, map[string]any{
			"platform": "android", "channel": "stable", "build_id": b1.ID, "percent": 100}), 201)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b1.ID, f.ops, nil), 409)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b2.ID, f.ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b2.ID, f.ops, nil), 404)
	})
	t.Run("ops invite and remove members, and leaving frees the seat", func(t *testing.T) {
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		f.joinBeta(t)
		var members struct {
			Items []struct{ UserID, Source string }
		}
		ts.must(ts.call("GET", "/v1/ops/apps/field/channels/beta/members", f.ops, nil), 200).json(t, &members)
		if len(members.Items) != 1 || members.Items[0].Source != "self" {
			t.Fatalf("members = %+v", members)
		}
		var v struct {
			Member  bool `json:"member"`
			CanJoin bool `json:"can_join"`
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/beta/leave", f.testerToken, nil), 200).json(t, &v)
		if v.Member || !v.CanJoin {
			t.Fatalf("leave = %+v", v)
		}
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta/members/"+f.tester, f.ops, nil), 200)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/channels/beta/members/"+f.tester, f.ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/channels/beta/members/"+f.tester, f.ops, nil), 404)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta/members/no-such-user", f.ops, nil), 404)
	})

	t.Run("a device counts in the channel it reports only when its user is a member", func(t *testing.T) {
		// Before, the app's word was taken: an employee whose phone checked in with "alpha" read
		// the announcements for alpha (IT) and got their pushes.
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		itPhone := device("android")
		phones := map[string]map[string]any{"phone-1": f.phone, "it-phone": itPhone}
		checkIn := func(token, deviceID, channel string) string {
			t.Helper()
			d := maps.Clone(phones[deviceID])
			d["app_id"], d["channel"] = appPackage("field"), channel
			var got struct{ Channel string }
			ts.must(ts.call("PUT", "/v1/devices/"+deviceID, token, d), 200).json(t, &got)
			return got.Channel
		}
		if got := checkIn(f.testerToken, "phone-1", "alpha"); got != "stable" {
			t.Errorf("Sales's phone reporting alpha is on %q, want stable", got)
		}
		if got := checkIn(f.itToken, "it-phone", "alpha"); got != "alpha" {
			t.Errorf("IT's phone reporting alpha is on %q", got)
		}
		if got := checkIn(f.testerToken, "phone-1", "beta"); got != "stable" {
			t.Errorf("before joining beta, the phone reporting beta is on %q, want stable", got)
		}
		f.joinBeta(t)
		if got := checkIn(f.testerToken, "phone-1", "beta"); got != "beta" {
			t.Errorf("after joining beta, the phone reporting beta is on %q", got)
		}

		var ann struct{ ID string }
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": "Alpha 3.0", "body": "Please try the new sync.", "audience": map[string]any{"channels": []string{"alpha"}},
		}), 201).json(t, &ann)
		ts.pushDone("announcement:" + ann.ID + ":publish")
		checkIn(f.testerToken, "phone-1", "alpha") // reporting alpha again changes nothing
		ts.must(ts.call("GET", "/v1/announcements/"+ann.ID, f.itToken, nil), 200)
		ts.must(ts.call("GET", "/v1/announcements/"+ann.ID, f.testerToken, nil), 404)
		if n := f.fake.Count(f.phone["push_token"].(string)); n != 0 {
			t.Errorf("Sales's phone got %d pushes of the alpha announcement", n)
		}
		if n := f.fake.Count(itPhone["push_token"].(string)); n != 1 {
			t.Errorf("IT's phone got %d pushes of the alpha announcement, want 1", n)
		}
	})

	t.Run("a user who leaves a channel or is removed from it stops counting in it at once", func(t *testing.T) {
		// Before, the phone kept the channel until it checked in again: beta's announcements and
		// pushes still reached a tester who left beta, or whom ops removed, for as long as that
		// phone stayed away.
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		f.joinBeta(t)
		d := maps.Clone(f.phone)
		d["app_id"], d["channel"] = appPackage("field"), "beta"
		var got struct{ Channel string }
		ts.must(ts.call("PUT", "/v1/devices/phone-1", f.testerToken, d), 200).json(t, &got)
		if got.Channel != "beta" {
			t.Fatalf("the member's phone is on %q", got.Channel)
		}
		announce := func(title string) string {
			var ann struct{ ID string }
			ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
				"title": title, "body": "For beta.", "audience": map[string]any{"channels": []string{"beta"}},
			}), 201).json(t, &ann)
			ts.pushDone("announcement:" + ann.ID + ":publish")
			return ann.ID
		}
		first := announce("Beta 3.0")
		ts.must(ts.call("GET", "/v1/announcements/"+first, f.testerToken, nil), 200)

		ts.must(ts.call("POST", "/v1/apps/field/channels/beta/leave", f.testerToken, nil), 200)
		ts.must(ts.call("GET", "/v1/announcements/"+first, f.testerToken, nil), 404)
		second := announce("Beta 3.1")
		ts.must(ts.call("GET", "/v1/announcements/"+second, f.testerToken, nil), 404)
		if n := f.fake.Count(f.phone["push_token"].(string)); n != 1 {
			t.Errorf("the phone got %d pushes of beta's announcements, want 1 (before leaving)", n)
		}

		f.joinBeta(t)
		ts.must(ts.call("PUT", "/v1/devices/phone-1", f.testerToken, d), 200)
		ts.must(ts.call("GET", "/v1/announcements/"+second, f.testerToken, nil), 200)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/channels/beta/members/"+f.tester, f.ops, nil), 204)
		ts.must(ts.call("GET", "/v1/announcements/"+second, f.testerToken, nil), 404)

		// Someone whose department a channel includes stays in it, and their devices with it.
		it := device("android")
		it["app_id"], it["channel"] = appPackage("field"), "alpha"
		ts.must(ts.call("PUT", "/v1/devices/it-phone", f.itToken, it), 200).json(t, &got)
		if got.Channel != "alpha" {
			t.Fatalf("IT's phone is on %q", got.Channel)
		}
		var ann struct{ ID string }
		ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
			"title": "Alpha 4.0", "body": "For alpha.", "audience": map[string]any{"channels": []string{"alpha"}},
		}), 201).json(t, &ann)
		ts.must(ts.call("POST", "/v1/apps/field/channels/alpha/leave", f.itToken, nil), 200)
		ts.must(ts.call("GET", "/v1/announcements/"+ann.ID, f.itToken, nil), 200)
	})

	t.Run("what's new stops at the newest build released on the reader's channels", func(t *testing.T) {
		// Before, any employee read the cards of builds only alpha had, by asking for a wide range.
		f := newReleaseFixture(t)
		ts := f.ts.with(t)
		f.fieldApp(t)
		ts.publishAPK(f.ops, "field", 240, "stable", 100)
		ts.publishAPK(f.ops, "field", 250, "alpha", 100)
		for _, n := range []int{240, 250, 260} {
			ts.must(ts.call("POST", "/v1/ops/whats-new", f.ops, map[string]any{"app_id": appPackage("field"), "build_number": n,
				"title": map[string]string{"en": fmt.Sprint("Build ", n)}, "body": map[string]string{"en": "New."}}), 201)
		}
		builds := func(token string) []int {
			t.Helper()
			var out struct {
				Items []struct {
					BuildNumber int `json:"build_number"`
				}
			}
			ts.must(ts.call("GET", "/v1/whats-new?app="+appPackage("field")+"&from_build=0&to_build=999", token, nil), 200).json(t, &out)
			var got []int
			for _, it := range out.Items {
				got = append(got, it.BuildNumber)
			}
			return got
		}
		if got := builds(f.testerToken); !slices.Equal(got, []int{240}) {
			t.Errorf("on stable, cards of builds %v, want [240]", got)
		}
		if got := builds(f.itToken); !slices.Equal(got, []int{240, 250}) {
			t.Errorf("in alpha, cards of builds %v, want [240 250]", got)
		}
	})
}

// releaseUser creates and signs in an employee of department.
func (ts *testServer) releaseUser(adminToken, employeeNo, department string) (id, token string) {
	ts.t.Helper()
	id, otp := ts.createUser(adminToken, map[string]any{"employee_no": employeeNo, "name": "User " + employeeNo, "department": department})
	return id, ts.signIn(employeeNo, otp, employeeNo+"-passphrase", employeeNo+"-phone").AccessToken
}
