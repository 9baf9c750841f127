package updates_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release/rollout"
	"github.com/mportal/mportal/internal/release/updates"
)

func bothPlatforms() *fixture {
	return newFixture().release("stable", android, 100, rollout.Completed, 100).
		release("stable", ios, 7, rollout.Completed, 100).
		release("alpha", android, 130, rollout.Active, 100)
}

func TestCheckUpdateAnswersWithSignedLinksWithoutNetwork(t *testing.T) {
	s := newService(t, bothPlatforms())
	if _, err := s.View.Current(ctx(t)); err != nil { // the one load, before counting
		t.Fatal(err)
	}
	t.Run("gives Android a presigned download link", func(t *testing.T) {
		u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: android, Build: 90}, "en")
		if err != nil {
			t.Fatal(err)
		}
		if u.UpdateType != "optional" || *u.Build != 100 || *u.BuildID != "android-100" || *u.Notes != "Build 100" ||
			*u.NotesHTML != "<p>Build 100</p>" || u.InstallURL != nil || u.DownloadURL == nil {
			t.Fatalf("update = %+v", u)
		}
		link, err := url.Parse(*u.DownloadURL)
		if err != nil || link.Query().Get("X-Amz-Signature") == "" || link.Query().Get("X-Amz-Expires") != "900" ||
			!strings.HasSuffix(link.Path, "/builds/android/100") {
			t.Fatalf("download link %q is not a 15-minute presigned GET of the build", *u.DownloadURL)
		}
	})
	t.Run("gives iOS an itms-services link to a signed manifest", func(t *testing.T) {
		u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: ios, Build: 5}, "fr")
		if err != nil {
			t.Fatal(err)
		}
		if u.InstallURL == nil || u.DownloadURL == nil || *u.Notes != "版本 7" {
			t.Fatalf("update = %+v", u)
		}
		rest, ok := strings.CutPrefix(*u.InstallURL, "itms-services://?action=download-manifest&url=")
		if !ok {
			t.Fatalf("install link %q", *u.InstallURL)
		}
		manifest, err := url.QueryUnescape(rest)
		if err != nil || !strings.HasPrefix(manifest, "https://portal.example.com/v1/apps/portal/builds/ios-7/manifest.plist?expires=") {
			t.Fatalf("manifest link %q (%v)", manifest, err)
		}
	})
	t.Run("leaves the links out when there is nothing to install", func(t *testing.T) {
		u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: android, Build: 100}, "")
		if err != nil {
			t.Fatal(err)
		}
		if u.UpdateType != "none" || u.DownloadURL != nil || u.InstallURL != nil || *u.Build != 100 {
			t.Fatalf("update = %+v", u)
		}
	})
	t.Run("refuses a caller without a principal", func(t *testing.T) {
		_, err := s.CheckUpdate(ctx(t), nil, updates.Query{AppID: appID, Platform: android}, "")
		if apperr.CodeOf(err) != apperr.Unauthorized {
			t.Fatalf("err = %v", err)
		}
	})
	if n := s.requests.Load(); n != 0 {
		t.Fatalf("the update checks sent %d requests to object storage; presigning must be local", n)
	}
}

func TestSignedLinksAreReusedForAtMostFiveMinutes(t *testing.T) {
	s := newService(t, bothPlatforms())
	check := func() string {
		u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: ios, Build: 1}, "")
		if err != nil {
			t.Fatal(err)
		}
		return *u.InstallURL
	}
	first := check()
	s.clock.Advance(updates.URLReuse - time.Second)
	if again := check(); again != first {
		t.Fatal("a link was signed again within the reuse window")
	}
	s.clock.Advance(2 * time.Second)
	if later := check(); later == first {
		t.Fatal("a link was handed out beyond the reuse window")
	}
}

// TestTheRequestsTimeOnTheWallClock: a Service on the wall clock (no clock of its own, as
// deployed) takes the time the API read when the request arrived (Query.At) for its links' reuse
// instead of reading the clock again; a test's clock wins over it (the test above).
func TestTheRequestsTimeOnTheWallClock(t *testing.T) {
	s := newService(t, bothPlatforms())
	s.Now = nil
	arrived := time.Now()
	check := func(at time.Time) string {
		u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: ios, Build: 1, At: at}, "")
		if err != nil {
			t.Fatal(err)
		}
		return *u.InstallURL
	}
	first := check(arrived)
	if again := check(arrived.Add(updates.URLReuse - time.Second)); again != first {
		t.Fatal("a link was signed again within the reuse window of the requests' times")
	}
	if later := check(arrived.Add(updates.URLReuse + time.Second)); later == first {
		t.Fatal("the request's time was not used: the link of a request past the reuse window was reused")
	}
}

// manifestParams returns the expiry and signature of a fresh manifest link for ios-7.
func manifestParams(t *testing.T, s *service) (int64, string) {
	t.Helper()
	u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: ios, Build: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := url.QueryUnescape(strings.TrimPrefix(*u.InstallURL, "itms-services://?action=download-manifest&url="))
	link, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := strconv.ParseInt(link.Query().Get("expires"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return exp, link.Query().Get("sig")
}

func TestManifest(t *testing.T) {
	s := newService(t, bothPlatforms())
	exp, sig := manifestParams(t, s)
	t.Run("is a plist whose package URL survives the encoder", func(t *testing.T) {
		body, err := s.Manifest(ctx(t), appID, "ios-7", exp, sig)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "&amp;X-Amz-") {
			t.Errorf("the presigned URL's & is not escaped in the XML:\n%s", body)
		}
		var doc struct {
			Items []struct {
				Assets []struct {
					Kind string `plist:"kind"`
					URL  string `plist:"url"`
				} `plist:"assets"`
				Metadata map[string]string `plist:"metadata"`
			} `plist:"items"`
		}
		if _, err := plist.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		item := doc.Items[0]
		u, err := url.Parse(item.Assets[0].URL)
		if err != nil || item.Assets[0].Kind != "software-package" || u.Query().Get("X-Amz-Signature") == "" ||
			item.Metadata["bundle-identifier"] != "com.example.portal" || item.Metadata["bundle-version"] != "1.7" {
			t.Fatalf("manifest = %+v", doc)
		}
	})
	tests := []struct {
		name    string
		build   string
		expires int64
		sig     string
	}{
		{"rejects a tampered signature", "ios-7", exp, strings.Repeat("0", 64)},
		{"rejects a signature for another build", "ios-8", exp, sig},
		{"rejects a moved expiry", "ios-7", exp + 60, sig},
		{"rejects a signature that is not hex", "ios-7", exp, "zz"},
		{"rejects an Android build", "android-100", exp, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sig == "" {
				tt.sig = s.Signer.Sign(appID, tt.build, tt.expires)
			}
			if _, err := s.Manifest(ctx(t), appID, tt.build, tt.expires, tt.sig); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("err = %v, want not_found", err)
			}
		})
	}
	t.Run("rejects an expired link", func(t *testing.T) {
		s.clock.Advance(updates.URLLifetime + time.Second)
		if _, err := s.Manifest(ctx(t), appID, "ios-7", exp, sig); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("err = %v, want not_found", err)
		}
	})
}

func TestDownload(t *testing.T) {
	s := newService(t, bothPlatforms())
	it := &auth.Principal{UserID: "it-1", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"}
	t.Run("counts each user once per build", func(t *testing.T) {
		for range 2 {
			link, expires, err := s.Download(ctx(t), user("u1"), appID, "android-100")
			if err != nil || !strings.Contains(link, "X-Amz-Signature") || !expires.After(s.clock.Now().Add(10*time.Minute)) {
				t.Fatalf("Download = %q, %v, %v", link, expires, err)
			}
		}
		if _, _, err := s.Download(ctx(t), it, appID, "android-130"); err != nil {
			t.Fatal(err)
		}
		n, err := s.db.Collection("downloads").CountDocuments(ctx(t), map[string]any{})
		if err != nil || n != 2 {
			t.Fatalf("%d download records (%v), want 2", n, err)
		}
	})
	tests := []struct {
		name  string
		p     *auth.Principal
		build string
		code  apperr.Code
	}{
		{"hides an alpha build from a non-member", user("u1"), "android-130", apperr.NotFound},
		{"hides a build that is not released", user("u1"), "android-999", apperr.NotFound},
		{"lets ops fetch any build", user("o1", auth.RoleOps), "android-130", ""},
		{"refuses a caller without a principal", nil, "android-100", apperr.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Download(ctx(t), tt.p, appID, tt.build)
			if tt.code == "" && err != nil || tt.code != "" && apperr.CodeOf(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
		})
	}
}

// A build whose version holds a / (the developer's free text: "2.3.0/hotfix" parses) is offered
// with a download named "<app>-2.3.0-hotfix.apk". The / made the link's download name invalid,
// and every update check offering the build answered 400.
func TestAVersionWithASlashIsOffered(t *testing.T) {
	f := newFixture().release("stable", android, 100, rollout.Completed, 100)
	f.d.Builds[0].Version = "2.3.0/hotfix"
	s := newService(t, f)
	u, err := s.CheckUpdate(ctx(t), user("u1"), updates.Query{AppID: appID, Platform: android, Build: 90}, "en")
	if err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(*u.DownloadURL)
	if err != nil || !strings.Contains(link.Query().Get("response-content-disposition"), `filename="portal-2.3.0-hotfix.apk"`) {
		t.Fatalf("download link %q (%v)", *u.DownloadURL, err)
	}
}
