package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"howett.net/plist"
)

// e2eUpdate is the answer of the update check.
type e2eUpdate struct {
	UpdateType     string  `json:"update_type"`
	Channel        string  `json:"channel"`
	InstalledNewer bool    `json:"installed_newer"`
	Unsatisfiable  bool    `json:"unsatisfiable"`
	MinBuild       int64   `json:"min_build"`
	Build          *int64  `json:"build"`
	BuildID        *string `json:"build_id"`
	Size           *int64  `json:"size"`
	Notes          *string `json:"notes"`
	DownloadURL    *string `json:"download_url"`
	InstallURL     *string `json:"install_url"`
}

func (ts *testServer) checkUpdate(token, query string) e2eUpdate {
	ts.t.Helper()
	var u e2eUpdate
	ts.must(ts.call("GET", "/v1/apps/portal/update?"+query, token, nil), 200).json(ts.t, &u)
	return u
}

// noRedirects returns ts with a client that hands redirects back instead of following them.
func (ts *testServer) noRedirects() *testServer {
	c := *ts.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	direct := *ts
	direct.client = &c
	return &direct
}

// newEmployee creates and signs in an employee of department.
func (ts *testServer) newEmployee(adminToken, employeeNo, department string) (id, token string) {
	ts.t.Helper()
	id, otp := ts.createUser(adminToken, map[string]any{"employee_no": employeeNo, "name": "User " + employeeNo, "department": department})
	return id, ts.signIn(employeeNo, otp, employeeNo+"-passphrase", employeeNo+"-phone").AccessToken
}

// distributionServer is a server with app "portal": stable Android build 100 and iOS build 7,
// alpha (department IT) Android build 130, and a beta that users may join themselves.
func distributionServer(t *testing.T) (ts *testServer, admin, ops string) {
	ts = startServer(t, testEnv(t, nil))
	admin = ts.adminToken()
	ops = ts.newOps(admin, "OPS1")
	ts.createApp(ops, "portal")
	ts.must(ts.call("PUT", "/v1/ops/apps/portal/channels/alpha", ops, map[string]any{"departments": []string{"IT"}}), 200)
	ts.must(ts.call("PUT", "/v1/ops/apps/portal/channels/beta", ops, map[string]any{"self_opt_in": true}), 200)
	ts.publishAPK(ops, "portal", 100, "stable", 100)
	ts.publishAPK(ops, "portal", 130, "alpha", 100)
	ts.publishIPA(ops, "portal", 7, "stable", 100)
	return ts, admin, ops
}

func TestUpdateCheckEndToEnd(t *testing.T) {
	ts, admin, ops := distributionServer(t)
	_, alice := ts.newEmployee(admin, "E2001", "Sales")
	_, bob := ts.newEmployee(admin, "E2002", "IT")

	t.Run("offers stable with a presigned link that downloads the APK", func(t *testing.T) {
		ts := ts.with(t)
		u := ts.checkUpdate(alice, "platform=android&build=90&locale=en")
		if u.UpdateType != "optional" || u.Channel != "stable" || *u.Build != 100 || u.DownloadURL == nil || u.InstallURL != nil ||
			!strings.Contains(*u.Notes, "**notes**") {
			t.Fatalf("update = %+v", u)
		}
		resp, err := http.Get(*u.DownloadURL)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || int64(len(data)) != *u.Size {
			t.Fatalf("the download link answered %d with %d bytes, want %d", resp.StatusCode, len(data), *u.Size)
		}
		if u := ts.checkUpdate(alice, "platform=android&build=100"); u.UpdateType != "none" || u.DownloadURL != nil {
			t.Fatalf("up-to-date device got %+v", u)
		}
	})
	t.Run("offers alpha to IT staff only", func(t *testing.T) {
		ts := ts.with(t)
		if u := ts.checkUpdate(bob, "platform=android&build=100&channel=alpha"); u.Channel != "alpha" || *u.Build != 130 {
			t.Fatalf("IT staff got %+v", u)
		}
		if u := ts.checkUpdate(alice, "platform=android&build=100&channel=alpha"); u.Channel != "stable" || *u.Build != 100 || u.UpdateType != "none" {
			t.Fatalf("a non-member asking for alpha got %+v", u)
		}
	})
	t.Run("says a tester who left beta runs a newer build than stable", func(t *testing.T) {
		ts := ts.with(t)
		ts.publishAPK(ops, "portal", 120, "beta", 100)
		ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/join", alice, nil), 200)
		if u := ts.checkUpdate(alice, "platform=android&build=100&channel=beta"); u.Channel != "beta" || *u.Build != 120 || u.UpdateType != "optional" {
			t.Fatalf("a beta tester got %+v", u)
		}
		// The same query escaped (%XX, + for a space) reads the same: the handler then leaves
		// the decoding to fasthttp.
		if u := ts.checkUpdate(alice, "platform=%61ndroid&build=%31%30%30&channel=bet%61&locale=+en"); u.Channel != "beta" || *u.Build != 120 || u.UpdateType != "optional" {
			t.Fatalf("a beta tester's escaped query got %+v", u)
		}
		ts.must(ts.call("POST", "/v1/apps/portal/channels/beta/leave", alice, nil), 200)
		u := ts.checkUpdate(alice, "platform=android&build=120&channel=beta")
		if u.Channel != "stable" || !u.InstalledNewer || u.UpdateType != "none" || *u.Build != 100 {
			t.Fatalf("a tester who left beta got %+v", u)
		}
	})
	t.Run("forces an update below the minimum build", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("PUT", "/v1/ops/apps/portal/tracks/android/stable/min-build", ops, map[string]any{"min_build": 100}), 200)
		if u := ts.checkUpdate(alice, "platform=android&build=90"); u.UpdateType != "required" || u.MinBuild != 100 {
			t.Fatalf("a device below the minimum got %+v", u)
		}
	})
	t.Run("gives iOS an install link whose manifest parses", func(t *testing.T) {
		ts := ts.with(t)
		u := ts.checkUpdate(alice, "platform=ios&build=1")
		if u.InstallURL == nil || !strings.HasPrefix(*u.InstallURL, "itms-services://?action=download-manifest&url=") {
			t.Fatalf("update = %+v", u)
		}
		raw, _ := url.QueryUnescape(strings.TrimPrefix(*u.InstallURL, "itms-services://?action=download-manifest&url="))
		link, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		r := ts.must(ts.call("GET", link.RequestURI(), "", nil), 200) // no credentials, like installd
		if ct := r.header.Get("Content-Type"); ct != "application/xml" {
			t.Errorf("Content-Type %q", ct)
		}
		var doc struct {
			Items []struct {
				Assets []struct {
					URL string `plist:"url"`
				} `plist:"assets"`
				Metadata map[string]string `plist:"metadata"`
			} `plist:"items"`
		}
		if _, err := plist.Unmarshal(r.body, &doc); err != nil {
			t.Fatal(err)
		}
		ipa, err := http.Get(doc.Items[0].Assets[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		ipa.Body.Close()
		if ipa.StatusCode != 200 || doc.Items[0].Metadata["bundle-identifier"] != appPackage("portal") {
			t.Fatalf("the manifest's IPA link answered %d; metadata %v", ipa.StatusCode, doc.Items[0].Metadata)
		}
		q := link.Query()
		q.Set("sig", strings.Repeat("ab", 32))
		ts.must(ts.call("GET", link.Path+"?"+q.Encode(), "", nil), 404)
	})
	t.Run("rejects bad parameters and unknown apps", func(t *testing.T) {
		ts := ts.with(t)
		for _, q := range []string{"build=1", "platform=android&build=x", "platform=windows&build=1"} {
			r := ts.must(ts.call("GET", "/v1/apps/portal/update?"+q, alice, nil, offContract), 400)
			if r.problemCode() != "invalid" {
				t.Errorf("%s: code %q", q, r.problemCode())
			}
		}
		ts.must(ts.call("GET", "/v1/apps/nope/update?platform=android&build=1", alice, nil), 404)
		ts.must(ts.call("GET", "/v1/apps/portal/update?platform=android&build=1", "", nil), 401)
	})
	t.Run("downloads only builds offered to the caller", func(t *testing.T) {
		ts := ts.with(t).noRedirects()
		r := ts.must(ts.call("GET", "/v1/apps/portal/builds/android-130/download", bob, nil), 302)
		if !strings.Contains(r.header.Get("Location"), "X-Amz-Signature") {
			t.Fatalf("Location %q", r.header.Get("Location"))
		}
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-130/download", alice, nil), 404)
		var link struct {
			URL       string `json:"url"`
			ExpiresAt string `json:"expires_at"`
		}
		ts.must(ts.call("GET", "/v1/apps/portal/builds/android-100/download", alice, nil, withHeader("Accept", "application/json")), 200).json(t, &link)
		if !strings.Contains(link.URL, "X-Amz-Signature") || link.ExpiresAt == "" {
			t.Fatalf("link = %+v", link)
		}
	})
	t.Run("counts downloads and devices for ops only", func(t *testing.T) {
		ts := ts.with(t)
		dev := device("android")
		dev["app_id"], dev["build_number"], dev["channel"] = appPackage("portal"), 100, "stable"
		ts.must(ts.call("PUT", "/v1/devices/alice-phone", alice, dev), 200)
		ts.must(ts.call("GET", "/v1/ops/apps/portal/stats", alice, nil), 403)
		var st struct {
			Channels []struct {
				Channel string
				Builds  []struct {
					BuildID   *string `json:"build_id"`
					Downloads int
					Devices   int
				}
			}
		}
		ts.must(ts.call("GET", "/v1/ops/apps/portal/stats?platform=android", ops, nil), 200).json(t, &st)
		found := false
		for _, c := range st.Channels {
			for _, b := range c.Builds {
				if c.Channel == "stable" && b.BuildID != nil && *b.BuildID == "android-100" {
					found = b.Downloads == 1 && b.Devices == 1
				}
			}
		}
		if !found {
			t.Fatalf("stats lack one download and one device of android-100 on stable: %+v", st)
		}
	})
}
