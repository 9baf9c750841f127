package main

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// consoleUploadBuild uploads data as the app screen's script does: an upload URL from the console,
// the file PUT straight to it, then the build created from the upload; it returns the build
// page's address.
func (ts *testServer) consoleUploadBuild(s consoleSession, appID, platform, filename string, data []byte) string {
	ts.t.Helper()
	json := withHeader("Accept", "application/json")
	var tk struct{ UploadKey, UploadURL, Method string }
	r := ts.must(ts.consolePost(s, "/console/apps/"+appID+"/builds/uploads", url.Values{
		"platform": {platform}, "size": {strconv.Itoa(len(data))}, "filename": {filename},
	}, json), 201)
	r.json(ts.t, &struct {
		UploadKey *string `json:"upload_key"`
		UploadURL *string `json:"upload_url"`
		Method    *string `json:"method"`
	}{&tk.UploadKey, &tk.UploadURL, &tk.Method})
	ts.sendToUploadURL(tk.Method, tk.UploadURL, data)
	var created struct{ ID, Location string }
	ts.must(ts.consolePost(s, "/console/apps/"+appID+"/builds", url.Values{"upload_key": {tk.UploadKey}}, json), 201).json(ts.t, &created)
	return created.Location
}

// TestConsoleAppsEndToEnd drives the apps screens over HTTP: a build uploaded through the
// presigned URL and shown with its metadata and icon, published at 20% after a confirmation
// that counts who gets it, raised, a minimum build, a channel's settings and members; each
// change checked through the API and found in the audit log.
func TestConsoleAppsEndToEnd(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	opsToken := ts.newOps(admin, "OPS1")
	employeeID, employeeToken := ts.newEmployee(admin, "E5001", "Sales")
	ts.createApp(opsToken, "portal")
	_, s := ts.consoleSignIn("OPS1", "OPS1-passphrase")
	en := withHeader("Accept-Language", "en")
	var buildPage string

	t.Run("shows the app screen with the upload script, its CSP and the install QR code", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.call("GET", "/console/apps/portal", "", nil, s.cookies(), en), 200)
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self' http://"+ts.main.Config.MinIOEndpoint) {
			t.Errorf("the app screen's CSP %q does not let its script reach object storage", csp)
		}
		body := string(r.body)
		for _, want := range []string{`<script src="/console/static/apps-upload.js">`, `id="build-file"`, `src="data:image/png;base64,`,
			ts.main.Config.PublicBaseURL + "/install/portal", `href="/console/apps/portal/channels/beta"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the app screen lacks %s:\n%s", want, body)
			}
		}
		js := ts.must(ts.call("GET", "/console/static/apps-upload.js", "", nil), 200)
		if !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
			t.Errorf("script Content-Type %q", js.header.Get("Content-Type"))
		}
	})

	t.Run("uploads an APK straight to storage and shows its parsed metadata and icon", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.consolePost(s, "/console/apps/portal/builds/uploads", url.Values{"platform": {"android"}, "size": {"lots"}}), 400)
		ts.must(ts.consolePost(s, "/console/apps/portal/builds/uploads", url.Values{"platform": {"android"}, "size": {"10"}, "csrf_token": {"forged"}}), 403)
		apk := artifacttest.APK{Package: appPackage("portal"), Build: 100, Version: "2.4.0", MinSDK: 26, Label: "Portal"}.Bytes(t)
		buildPage = ts.consoleUploadBuild(s, "portal", "android", "portal.apk", apk)
		if buildPage != "/console/apps/portal/builds/android-100" {
			t.Fatalf("the new build's page is %q", buildPage)
		}
		body := string(ts.must(ts.call("GET", buildPage, "", nil, s.cookies(), en), 200).body)
		for _, want := range []string{"2.4.0", ">100<", "com.example.portal", "Android API 26", strconv.Itoa(len(apk)) + " B", `src="/console/apps/portal/builds/android-100/icon.png"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the build page lacks %s:\n%s", want, body)
			}
		}
		icon := ts.must(ts.call("GET", buildPage+"/icon.png", "", nil, s.cookies()), 200)
		if icon.header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(icon.body, []byte("\x89PNG")) {
			t.Errorf("the icon is %q: % x", icon.header.Get("Content-Type"), icon.body[:min(8, len(icon.body))])
		}
		var builds struct{ Items []e2eBuild }
		ts.must(ts.call("GET", "/v1/ops/apps/portal/builds", opsToken, nil), 200).json(t, &builds)
		if len(builds.Items) != 1 || builds.Items[0].Version != "2.4.0" || builds.Items[0].Size != int64(len(apk)) {
			t.Errorf("the API's builds after the console's upload: %+v", builds.Items)
		}
	})

	t.Run("publishes at 20% after saying who gets it, then raises", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/console/apps/portal/releases/new?build_id=android-100&channel=stable&percent=0", "", nil, s.cookies()), 400)
		confirm := string(ts.must(ts.call("GET", "/console/apps/portal/releases/new?build_id=android-100&channel=stable&percent=20", "", nil, s.cookies(), en), 200).body)
		// Active users: the admin, OPS1 and E5001; 20% of 3 is about 1.
		for _, want := range []string{"Channel stable is everybody: 3 active users", "at 20%: about 1 people", `name="percent" value="20"`} {
			if !strings.Contains(confirm, want) {
				t.Errorf("the confirmation lacks %q:\n%s", want, confirm)
			}
		}
		form := url.Values{"build_id": {"android-100"}, "channel": {"stable"}, "percent": {"20"}, "notify": {"false"}}
		ts.must(ts.consolePost(s, "/console/apps/portal/releases", form, withHeader("Origin", "https://evil.example")), 403)
		r := ts.must(ts.consolePost(s, "/console/apps/portal/releases", form), 303)
		if loc := r.header.Get("Location"); loc != "/console/apps/portal#releases" {
			t.Errorf("after publishing the console goes to %q", loc)
		}
		var tracks struct{ Items []e2eTrack }
		ts.must(ts.call("GET", "/v1/ops/apps/portal/tracks", opsToken, nil), 200).json(t, &tracks)
		if len(tracks.Items) != 1 || tracks.Items[0].Channel != "stable" || tracks.Items[0].Releases[0].Percent != 20 {
			t.Fatalf("the API's tracks after publishing in the console: %+v", tracks.Items)
		}
		rel := tracks.Items[0].Releases[0].ID
		path := "/console/apps/portal/tracks/android/stable/releases/" + rel
		ts.must(ts.call("GET", path+"?action=launch", "", nil, s.cookies(), offContract), 400)
		confirm = string(ts.must(ts.call("GET", path+"?action=raise&percent=100", "", nil, s.cookies(), en), 200).body)
		if !strings.Contains(confirm, "from 20% to 100%: from about 1 to about 3 people") {
			t.Errorf("the raise's confirmation reads:\n%s", confirm)
		}
		ts.must(ts.consolePost(s, path, url.Values{"action": {"raise"}, "percent": {"100"}}), 303)
		ts.must(ts.call("GET", "/v1/ops/apps/portal/tracks", opsToken, nil), 200).json(t, &tracks)
		if tracks.Items[0].Releases[0].Percent != 100 {
			t.Errorf("the API's release after the raise: %+v", tracks.Items[0].Releases)
		}
		ts.must(ts.consolePost(s, "/console/apps/portal/tracks/android/stable/min-build", url.Values{"min_build": {"-1"}}), 400)
		ts.must(ts.consolePost(s, "/console/apps/portal/tracks/android/stable/min-build", url.Values{"min_build": {"100"}}), 303)
		ts.must(ts.call("GET", "/v1/ops/apps/portal/tracks", opsToken, nil), 200).json(t, &tracks)
		if tracks.Items[0].MinBuild != 100 {
			t.Errorf("the API's minimum build after the console set it: %d", tracks.Items[0].MinBuild)
		}

		// Halt, resume, complete: each confirmation says who, and the screen offers only the
		// transitions the release's state allows.
		for _, step := range []struct{ action, says, state string }{
			{"halt", "nobody is offered it any more (about 3 people were)", "halted"},
			{"resume", "at 100%: the same people, about 3, are offered it again", "active"},
			{"complete", "everybody on the channel, about 3 people, is offered it", "completed"},
		} {
			confirm := string(ts.must(ts.call("GET", path+"?action="+step.action, "", nil, s.cookies(), en), 200).body)
			if !strings.Contains(confirm, step.says) {
				t.Errorf("the %s confirmation reads:\n%s", step.action, confirm)
			}
			ts.must(ts.consolePost(s, path, url.Values{"action": {step.action}}), 303)
			ts.must(ts.call("GET", "/v1/ops/apps/portal/tracks", opsToken, nil), 200).json(t, &tracks)
			if st := tracks.Items[0].Releases[0].State; st != step.state {
				t.Errorf("the API's release after %s is %s", step.action, st)
			}
			page := string(ts.must(ts.call("GET", "/console/apps/portal", "", nil, s.cookies(), en), 200).body)
			if raise := strings.Contains(page, `id="percent-`+rel+`"`); raise != (step.state == "active") {
				t.Errorf("a %s release offers a raise: %v", step.state, raise)
			}
			if resume := strings.Contains(page, `name="action" value="resume"`); resume != (step.state == "halted") {
				t.Errorf("a %s release offers to resume: %v", step.state, resume)
			}
		}
	})

	t.Run("sets a channel's cap and self opt-in, invites and removes a member", func(t *testing.T) {
		ts := ts.with(t)
		stable := string(ts.must(ts.call("GET", "/console/apps/portal/channels/stable", "", nil, s.cookies(), en), 200).body)
		if !strings.Contains(stable, "Stable includes everybody") || strings.Contains(stable, `id="invite-user"`) {
			t.Errorf("the stable channel's page reads:\n%s", stable)
		}
		ts.must(ts.call("GET", "/console/apps/portal/channels/nightly", "", nil, s.cookies()), 404)
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta", url.Values{"cap": {"many"}}), 400)
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta", url.Values{"cap": {"2"}, "self_opt_in": {"true"}, "retention": {"0"}}), 303)
		var chs struct {
			Items []struct {
				Name      string `json:"name"`
				Cap       int    `json:"cap"`
				SelfOptIn bool   `json:"self_opt_in"`
			}
		}
		ts.must(ts.call("GET", "/v1/ops/apps/portal/channels", opsToken, nil), 200).json(t, &chs)
		for _, ch := range chs.Items {
			if ch.Name == "beta" && (ch.Cap != 2 || !ch.SelfOptIn) {
				t.Errorf("the API's beta after the console's settings: %+v", ch)
			}
		}
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta/members", url.Values{"user_id": {employeeID}}), 303)
		members := func() []string {
			var ms struct {
				Items []struct {
					UserID string `json:"user_id"`
				}
			}
			ts.must(ts.call("GET", "/v1/ops/apps/portal/channels/beta/members", opsToken, nil), 200).json(t, &ms)
			var ids []string
			for _, m := range ms.Items {
				ids = append(ids, m.UserID)
			}
			return ids
		}
		if got := members(); len(got) != 1 || got[0] != employeeID {
			t.Errorf("the API's beta members after the invitation: %v", got)
		}
		page := string(ts.must(ts.call("GET", "/console/apps/portal/channels/beta", "", nil, s.cookies(), en), 200).body)
		if !strings.Contains(page, `id="member-`+employeeID+`"`) || !strings.Contains(page, "Channel beta has 1 active users") {
			t.Errorf("the beta channel's page reads:\n%s", page)
		}
		ts.must(ts.consolePost(s, "/console/apps/portal/channels/beta/members/"+employeeID+"/remove", nil), 303)
		if got := members(); len(got) != 0 {
			t.Errorf("the API's beta members after the removal: %v", got)
		}
	})

	t.Run("keeps employees out and audits every change", func(t *testing.T) {
		ts := ts.with(t)
		emp := consoleSession{csrfCookie: s.csrfCookie, token: s.token, session: "mportal_console=" + employeeToken}
		ts.must(ts.call("GET", "/console/apps/portal", "", nil, emp.cookies()), 403)
		ts.must(ts.consolePost(emp, "/console/apps/portal/releases", url.Values{"build_id": {"android-100"}, "channel": {"beta"}, "percent": {"5"}}), 403)
		_, as := ts.consoleSignIn("admin", "admin-passphrase-1")
		audit := string(ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200).body)
		for _, want := range []string{"build.create", "release.publish", "release.raise", "release.min_build", "channel.update", "channel.invite", "channel.remove"} {
			if !strings.Contains(audit, want) {
				t.Errorf("the audit export lacks %s:\n%s", want, audit)
			}
		}
	})
}
