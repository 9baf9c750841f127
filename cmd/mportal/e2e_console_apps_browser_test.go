package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// recordProgress keeps the highest value the upload's progress bar shows in sessionStorage,
// which outlives the navigation to the build's page.
const recordProgress = `(() => {
  const bar = document.getElementById('build-progress');
  sessionStorage.setItem('progress', '0');
  new MutationObserver(() => sessionStorage.setItem('progress', String(Math.max(+sessionStorage.getItem('progress'), bar.value))))
    .observe(bar, {attributes: true});
  return true;
})()`

// dropFile drops a file (base64 content, name) on the upload's drop zone, as dragging it from
// the desktop does.
const dropFile = `((data, name) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: 'application/vnd.android.package-archive'}));
  const zone = document.getElementById('build-drop');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
  }
  return true;
})`

// TestConsoleAppsInABrowser is the apps flow in Chromium: ops sign in, upload an APK with the
// file input (straight to MinIO, cross-origin, with the progress bar), see its parsed metadata
// and icon, publish it to stable at 20% after the confirmation that counts who gets it, raise
// it to 50%, and open a channel; on a phone in Chinese they drop another app's build (refused,
// with the server's reason on the page) and a second build on the page.
// Each step is checked through the API; every screen is photographed and checked by axe-core;
// the browser must report no CSP or CORS error.
func TestConsoleAppsInABrowser(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	ts.newEmployee(admin, "E6001", "Sales") // active users: the admin, OPS1 and E6001
	ts.createApp(ops, "portal")
	dir := t.TempDir()
	apkPath := filepath.Join(dir, "portal-2.4.0.apk")
	if err := os.WriteFile(apkPath, artifacttest.APK{Package: appPackage("portal"), Build: 100, Version: "2.4.0", Label: "Portal"}.Bytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := artifacttest.APK{Package: "com.example.other", Build: 102}.Bytes(t)
	second := artifacttest.APK{Package: appPackage("portal"), Build: 101, Version: "2.4.1", Label: "Portal"}.Bytes(t)
	b := newConsoleBrowser(t, ts, 1280, 800, false, "en-US,en;q=0.9")
	// Every screen of this test is photographed as console-apps-<name>.jpg.
	look := func(t *testing.T, name string) consoleScreen {
		t.Helper()
		return b.look(t, "apps-"+name)
	}
	tracks := func(t *testing.T) []e2eTrack {
		var v struct{ Items []e2eTrack }
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/apps/portal/tracks", ops, nil), 200).json(t, &v)
		return v.Items
	}

	t.Run("ops on a laptop, in English: upload, publish at 20%, raise", func(t *testing.T) {
		b.signIn(t, "OPS1", "OPS1-passphrase")
		b.run(t, "open the app", chromedp.Click(`a[href="/console/apps"]`), chromedp.WaitVisible(`a[href="/console/apps/portal"]`),
			chromedp.Click(`a[href="/console/apps/portal"]`), chromedp.WaitVisible(`#build-file`), chromedp.WaitVisible(`#install-qr`))
		look(t, "laptop-en-app")

		var shown struct {
			Path, Progress string
			Icon           bool
			Text           string
		}
		b.run(t, "upload the APK with the file input", chromedp.Evaluate(recordProgress, nil),
			chromedp.SetUploadFiles(`#build-file`, []string{apkPath}, chromedp.ByID),
			chromedp.WaitVisible(`#build-meta`, chromedp.ByID), chromedp.WaitReady(`#build-icon`, chromedp.ByID),
			chromedp.Poll(`document.getElementById('build-icon').complete`, nil),
			chromedp.Evaluate(`({path: location.pathname, progress: sessionStorage.getItem('progress'),
			  icon: document.getElementById('build-icon').naturalWidth > 0, text: document.getElementById('build-meta').innerText})`, &shown))
		if shown.Path != "/console/apps/portal/builds/android-100" || shown.Progress != "100" || !shown.Icon {
			t.Errorf("after the upload the browser is at %s, the progress bar reached %s%%, the icon decoded: %v", shown.Path, shown.Progress, shown.Icon)
		}
		for _, want := range []string{"2.4.0", "100", "com.example.portal", "Android API 24"} {
			if !strings.Contains(shown.Text, want) {
				t.Errorf("the build's metadata lacks %q:\n%s", want, shown.Text)
			}
		}
		look(t, "laptop-en-build")
		var builds struct{ Items []e2eBuild }
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/apps/portal/builds", ops, nil), 200).json(t, &builds)
		if len(builds.Items) != 1 || builds.Items[0].ID != "android-100" || builds.Items[0].Version != "2.4.0" {
			t.Fatalf("the API's builds after the upload: %+v", builds.Items)
		}

		b.run(t, "ask to publish to stable at 20%", chromedp.SetValue(`#publish-channel`, "stable", chromedp.ByID),
			chromedp.SetValue(`#publish-percent`, "20", chromedp.ByID), chromedp.Click(`#publish-next`), chromedp.WaitVisible(`#confirm`))
		if s := look(t, "laptop-en-publish-confirm"); !strings.Contains(s.Text, "on channel stable at 20%: about 1 people") ||
			!strings.Contains(s.Text, "3 active users") {
			t.Errorf("the publish confirmation reads:\n%s", s.Text)
		}
		if got := tracks(t); len(got) != 0 {
			t.Fatalf("the confirmation page published already: %+v", got)
		}
		b.run(t, "confirm", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#releases`))
		got := tracks(t)
		if len(got) != 1 || got[0].Channel != "stable" || len(got[0].Releases) != 1 || got[0].Releases[0].Percent != 20 {
			t.Fatalf("the API's tracks after publishing: %+v", got)
		}
		rel := got[0].Releases[0].ID

		b.run(t, "ask to raise to 50%", chromedp.SetValue(`#percent-`+rel, "50", chromedp.ByID),
			chromedp.Click(`#release-`+rel+` form button`), chromedp.WaitVisible(`#confirm`))
		if s := look(t, "laptop-en-raise-confirm"); !strings.Contains(s.Text, "from 20% to 50%: from about 1 to about 2 people") {
			t.Errorf("the raise confirmation reads:\n%s", s.Text)
		}
		b.run(t, "confirm the raise", chromedp.Click(`#confirm`), chromedp.WaitVisible(`#percent-`+rel+`[value="50"]`, chromedp.ByQuery))
		if got := tracks(t); got[0].Releases[0].Percent != 50 {
			t.Errorf("the API's release after the raise: %+v", got[0].Releases)
		}
		look(t, "laptop-en-app-released")

		b.run(t, "open the beta channel", chromedp.Click(`a[href="/console/apps/portal/channels/beta"]`), chromedp.WaitVisible(`#cap`))
		look(t, "laptop-en-channel")
	})

	t.Run("ops on a phone, in Chinese: drop a build on the page", func(t *testing.T) {
		b.view(t, 390, 844, true, "zh-CN,zh;q=0.9")
		b.run(t, "open the app", chromedp.Navigate(ts.base+"/console/apps/portal"), chromedp.WaitVisible(`#build-drop`))
		if s := look(t, "phone-zh-app"); s.Lang != "zh-CN" || !strings.Contains(s.Text, "上传 APK 或 IPA") {
			t.Errorf("the phone's app screen (lang %q) reads:\n%s", s.Lang, s.Text)
		}
		var status string
		b.run(t, "drop another app's build", chromedp.Evaluate(dropFile+`('`+base64.StdEncoding.EncodeToString(foreign)+`', 'other.apk')`, nil),
			chromedp.WaitVisible(`#build-status.bad`, chromedp.ByQuery), chromedp.Text(`#build-status`, &status, chromedp.ByID))
		if !strings.Contains(status, "com.example.other") {
			t.Errorf("refusing another app's build, the page says %q", status)
		}
		b.run(t, "drop build 101", chromedp.Evaluate(dropFile+`('`+base64.StdEncoding.EncodeToString(second)+`', 'portal-2.4.1.apk')`, nil),
			chromedp.WaitVisible(`#build-meta`, chromedp.ByID))
		if s := look(t, "phone-zh-build"); !strings.Contains(s.Text, "2.4.1") {
			t.Errorf("the dropped build's page reads:\n%s", s.Text)
		}
		b.run(t, "ask to publish to beta", chromedp.SetValue(`#publish-channel`, "beta", chromedp.ByID),
			chromedp.Click(`#publish-next`), chromedp.WaitVisible(`#confirm`))
		look(t, "phone-zh-publish-confirm")
		b.run(t, "open the beta channel", chromedp.Navigate(ts.base+"/console/apps/portal/channels/beta"), chromedp.WaitVisible(`#invite-user`))
		look(t, "phone-zh-channel")
		var builds struct{ Items []e2eBuild }
		ts.with(t).must(ts.with(t).call("GET", "/v1/ops/apps/portal/builds", ops, nil), 200).json(t, &builds)
		if len(builds.Items) != 2 || builds.Items[0].ID != "android-101" {
			t.Errorf("the API's builds after the drop: %+v", builds.Items)
		}
	})

	b.cspOrCORSErrors(t)
}
