package main

import (
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// TestReleaseEndToEnd runs app distribution's management side through HTTP: ops create an app,
// set up its channels, upload builds through a presigned PUT into the real MinIO, publish a
// staged release to beta with a push to its members, and drive the rollout; employees see,
// join and leave channels; none of the ops endpoints let an employee in.
func TestReleaseEndToEnd(t *testing.T) {
	fake, env, configure := fakeFCM(t)
	ts := startServer(t, testEnv(t, env), configure)
	admin := ts.adminToken()
	ops := ts.newOps(admin, "REL-OPS")
	tester, testerToken := ts.releaseUser(admin, "REL-E1", "Sales")
	_, itToken := ts.releaseUser(admin, "REL-IT", "IT")
	dev := device("android")
	ts.must(ts.call("PUT", "/v1/devices/phone-1", testerToken, dev), 200)

	t.Run("ops create an app with its three channels", func(t *testing.T) {
		ts := ts.with(t)
		ts.createApp(ops, "field")
		ts.must(ts.call("POST", "/v1/ops/apps", ops, map[string]any{"id": "field", "name": "x", "android_package": "com.a.b"}), 409)
		var list struct{ Items []struct{ ID string } }
		ts.must(ts.call("GET", "/v1/ops/apps", ops, nil), 200).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != "field" {
			t.Fatalf("apps = %+v", list)
		}
		var app struct{ Name string }
		ts.must(ts.call("PATCH", "/v1/ops/apps/field", ops, map[string]any{"name": "Field Service"}), 200)
		ts.must(ts.call("GET", "/v1/ops/apps/field", ops, nil), 200).json(t, &app)
		if app.Name != "Field Service" {
			t.Fatalf("app = %+v", app)
		}
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/alpha", ops, map[string]any{"departments": []string{"IT"}}), 200)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta", ops, map[string]any{"self_opt_in": true, "cap": 1}), 200)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/stable", ops, map[string]any{"cap": 3}), 400)
		var chs struct{ Items []struct{ Name string } }
		ts.must(ts.call("GET", "/v1/ops/apps/field/channels", ops, nil), 200).json(t, &chs)
		if len(chs.Items) != 3 {
			t.Fatalf("channels = %+v", chs)
		}
	})
	t.Run("employees cannot manage distribution", func(t *testing.T) {
		ts := ts.with(t)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/ops/apps", map[string]any{"id": "mine", "name": "Mine", "android_package": "com.a.b"}},
			{"POST", "/v1/ops/apps/field/builds/uploads", map[string]any{"platform": "android", "size": 100}},
			{"POST", "/v1/ops/apps/field/releases", map[string]any{"platform": "android", "channel": "beta", "build_id": "android-1", "percent": 10}},
			{"PUT", "/v1/ops/apps/field/channels/beta/members/" + tester, nil},
		} {
			if r := ts.must(ts.call(c.method, c.path, testerToken, c.body), 403); r.problemCode() != "forbidden" {
				t.Errorf("%s %s: %s", c.method, c.path, r.body)
			}
		}
	})
	t.Run("a non-member cannot see the alpha channel", func(t *testing.T) {
		ts := ts.with(t)
		var apps struct {
			Items []struct {
				Channels []struct{ Name string } `json:"channels"`
			}
		}
		ts.must(ts.call("GET", "/v1/apps", testerToken, nil), 200).json(t, &apps)
		if len(apps.Items) != 1 || len(apps.Items[0].Channels) != 2 {
			t.Fatalf("apps = %+v", apps)
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/alpha/join", testerToken, nil), 404)
		ts.must(ts.call("GET", "/v1/apps", itToken, nil), 200).json(t, &apps)
		if len(apps.Items[0].Channels) != 3 {
			t.Fatalf("IT sees %+v", apps)
		}
	})

	var b1, b2 e2eBuild
	t.Run("ops upload builds through a presigned PUT", func(t *testing.T) {
		ts := ts.with(t)
		b1 = ts.uploadBuild(ops, "field", "android", artifacttest.APK{Package: appPackage("field"), Build: 240, Version: "2.4.0"}.Bytes(t))
		if b1.ID != "android-240" || b1.Version != "2.4.0" || len(b1.SHA256) != 64 || b1.NotesHTML["en"] == "" {
			t.Fatalf("build = %+v", b1)
		}
		b2 = ts.uploadBuild(ops, "field", "android", artifacttest.APK{Package: appPackage("field"), Build: 241}.Bytes(t))
		for _, c := range []struct {
			data []byte
			code string
		}{
			{artifacttest.APK{Package: appPackage("field"), Build: 240}.Bytes(t), "conflict"},
			{artifacttest.APK{Package: "com.other.app", Build: 1}.Bytes(t), "invalid"},
			{artifacttest.Bomb(t), ""},
		} {
			key := ts.putUpload(ops, "field", "android", c.data)
			r := ts.call("POST", "/v1/ops/apps/field/builds", ops, map[string]any{"upload_key": key})
			if r.status/100 != 4 || (c.code != "" && r.problemCode() != c.code) {
				t.Errorf("want a %q problem, got %d %s", c.code, r.status, r.body)
			}
		}
		var list struct{ Items []e2eBuild }
		ts.must(ts.call("GET", "/v1/ops/apps/field/builds?platform=android", ops, nil), 200).json(t, &list)
		if len(list.Items) != 2 || list.Items[0].ID != "android-241" {
			t.Fatalf("builds = %+v", list.Items)
		}
		var edited e2eBuild
		ts.must(ts.call("PATCH", "/v1/ops/apps/field/builds/android-240", ops, map[string]any{
			"notes": map[string]string{"en": "Faster **sync**", "zh-CN": "同步更快"}}), 200).json(t, &edited)
		if edited.NotesHTML["en"] != "<p>Faster <strong>sync</strong></p>\n" {
			t.Fatalf("notes = %+v", edited.NotesHTML)
		}
	})
	t.Run("a user joins the capped beta and the next one finds it full", func(t *testing.T) {
		ts := ts.with(t)
		var v struct {
			Member   bool `json:"member"`
			CanLeave bool `json:"can_leave"`
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/beta/join", testerToken, nil), 200).json(t, &v)
		if !v.Member || !v.CanLeave {
			t.Fatalf("join = %+v", v)
		}
		if r := ts.must(ts.call("POST", "/v1/apps/field/channels/beta/join", itToken, nil), 409); r.problemCode() != "conflict" {
			t.Fatalf("second join: %s", r.body)
		}
		var chs struct {
			Items []struct {
				Name      string
				SeatsLeft *int `json:"seats_left"`
			}
		}
		ts.must(ts.call("GET", "/v1/apps/field/channels", testerToken, nil), 200).json(t, &chs)
		if chs.Items[0].Name != "beta" || chs.Items[0].SeatsLeft == nil || *chs.Items[0].SeatsLeft != 0 {
			t.Fatalf("channels = %+v", chs)
		}
	})

	var relID string
	t.Run("publishing to beta with notify pushes a release notification to the member", func(t *testing.T) {
		ts := ts.with(t)
		var tr e2eTrack
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", ops, map[string]any{
			"platform": "android", "channel": "beta", "build_id": b1.ID, "percent": 10, "notify": true,
		}), 201).json(t, &tr)
		relID, _, _ = tr.release(t, b1.ID)
		ts.pushDone("release:" + relID)
		if n := fake.Count(dev["push_token"].(string)); n != 1 {
			t.Fatalf("the beta member got %d pushes", n)
		}
		for _, m := range fake.Messages() {
			if m.Data["release_id"] != relID || m.Data["category"] != "release" {
				t.Errorf("message %+v", m)
			}
		}
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", ops, map[string]any{
			"platform": "android", "channel": "beta", "build_id": b1.ID, "percent": 20}), 409)
	})
	t.Run("ops raise, halt, resume and complete the rollout", func(t *testing.T) {
		ts := ts.with(t)
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
			ts.must(ts.call("POST", base+"/"+st.action, ops, st.body), 200).json(t, &tr)
			if _, state, pct := tr.release(t, b1.ID); state != st.state || pct != st.percent {
				t.Fatalf("after %s: %s at %g%%", st.action, state, pct)
			}
		}
		ts.must(ts.call("POST", base+"/halt", ops, nil), 200)
		ts.must(ts.call("POST", base+"/halt", ops, nil), 409)
		ts.must(ts.call("POST", base+"/raise", ops, map[string]any{"percent": 60}), 409)
		var tr e2eTrack
		ts.must(ts.call("PUT", "/v1/ops/apps/field/tracks/android/beta/min-build", ops, map[string]any{"min_build": 240}), 200).json(t, &tr)
		if tr.MinBuild != 240 {
			t.Fatalf("track = %+v", tr)
		}
		var tracks struct{ Items []e2eTrack }
		ts.must(ts.call("GET", "/v1/ops/apps/field/tracks", ops, nil), 200).json(t, &tracks)
		if len(tracks.Items) != 1 || tracks.Items[0].MinBuild != 240 || len(tracks.Items[0].Releases) != 1 {
			t.Fatalf("tracks = %+v", tracks.Items)
		}
	})
	t.Run("a build in a live release cannot be deleted, an unreleased one can", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("POST", "/v1/ops/apps/field/releases", ops, map[string]any{
			"platform": "android", "channel": "stable", "build_id": b1.ID, "percent": 100}), 201)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b1.ID, ops, nil), 409)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b2.ID, ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/builds/"+b2.ID, ops, nil), 404)
	})
	t.Run("ops invite and remove members, and leaving frees the seat", func(t *testing.T) {
		ts := ts.with(t)
		var members struct {
			Items []struct{ UserID, Source string }
		}
		ts.must(ts.call("GET", "/v1/ops/apps/field/channels/beta/members", ops, nil), 200).json(t, &members)
		if len(members.Items) != 1 || members.Items[0].Source != "self" {
			t.Fatalf("members = %+v", members)
		}
		var v struct {
			Member  bool `json:"member"`
			CanJoin bool `json:"can_join"`
		}
		ts.must(ts.call("POST", "/v1/apps/field/channels/beta/leave", testerToken, nil), 200).json(t, &v)
		if v.Member || !v.CanJoin {
			t.Fatalf("leave = %+v", v)
		}
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta/members/"+tester, ops, nil), 200)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/channels/beta/members/"+tester, ops, nil), 204)
		ts.must(ts.call("DELETE", "/v1/ops/apps/field/channels/beta/members/"+tester, ops, nil), 404)
		ts.must(ts.call("PUT", "/v1/ops/apps/field/channels/beta/members/no-such-user", ops, nil), 404)
	})
}

// releaseUser creates and signs in an employee of department.
func (ts *testServer) releaseUser(adminToken, employeeNo, department string) (id, token string) {
	ts.t.Helper()
	id, otp := ts.createUser(adminToken, map[string]any{"employee_no": employeeNo, "name": "User " + employeeNo, "department": department})
	return id, ts.signIn(employeeNo, otp, employeeNo+"-passphrase", employeeNo+"-phone").AccessToken
}
