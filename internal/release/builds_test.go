package release

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
	"github.com/mportal/mportal/media"
)

func TestCreateBuild(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	pkg := "com.example.portal"

	t.Run("an APK is parsed, hashed, moved and recorded", func(t *testing.T) {
		data := artifacttest.APK{Package: pkg, Build: 230, Version: "2.3.0", MinSDK: 26, Label: "Portal", Pad: 256 << 10}.Bytes(t)
		key := f.upload(t, "portal", Android, data)
		b, err := f.svc.CreateBuild(ctx, opsUser, "portal", BuildInput{UploadKey: key,
			Notes: map[string]string{"en": "Fixes **login**<script>alert(1)</script>", "zh-CN": "修复登录"}})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if b.PublicID != "android-230" || b.Version != "2.3.0" || b.MinOS != "26" || b.PackageID != pkg ||
			b.DisplayName != "Portal" || b.Size != int64(len(data)) || b.SHA256 != hex.EncodeToString(sum[:]) ||
			b.UploadedBy != opsUser.UserID || b.ObjectKey != "portal/android/230.apk" {
			t.Fatalf("build = %+v", b)
		}
		if h := b.NotesHTML["en"]; !strings.HasPrefix(h, "<p>Fixes <strong>login</strong>") || strings.Contains(h, "<script") {
			t.Errorf("notes html = %q", b.NotesHTML["en"])
		}
		if info, err := f.store.Stat(ctx, media.Artifacts, b.ObjectKey); err != nil || info.Size != int64(len(data)) {
			t.Errorf("artifact = %+v, %v", info, err)
		}
		if _, err := f.store.Stat(ctx, media.Images, b.IconKey); err != nil || b.IconKey == "" {
			t.Errorf("icon %q: %v", b.IconKey, err)
		}
		_, err = f.store.Stat(ctx, media.Uploads, key)
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("an IPA is accepted against the bundle id", func(t *testing.T) {
		b := f.build(t, "portal", IOS, artifacttest.IPA{BundleID: "com.example.portal", Build: 57}.Bytes(t))
		if b.PublicID != "ios-57" || b.MinOS != "15.0" {
			t.Fatalf("build = %+v", b)
		}
	})

	rejects := []struct {
		name string
		plat Platform
		data func(t *testing.T) []byte
		code apperr.Code
	}{
		{"a build number already uploaded is a conflict", Android,
			func(t *testing.T) []byte { return artifacttest.APK{Package: pkg, Build: 230}.Bytes(t) }, apperr.Conflict},
		{"another app's package is refused", Android,
			func(t *testing.T) []byte { return artifacttest.APK{Package: "com.other.app", Build: 1}.Bytes(t) }, apperr.Invalid},
		{"an IPA uploaded as an Android build is refused", Android,
			func(t *testing.T) []byte { return artifacttest.IPA{BundleID: pkg, Build: 2}.Bytes(t) }, apperr.Invalid},
		{"a file that is not an archive is refused", Android,
			func(*testing.T) []byte { return []byte("definitely not a zip file, just some text") }, apperr.Invalid},
		{"a zip bomb is refused without inflating it", Android, artifactBomb, ""},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			key := f.upload(t, "portal", tt.plat, tt.data(t))
			_, err := f.svc.CreateBuild(ctx, opsUser, "portal", BuildInput{UploadKey: key})
			if _, serr := f.store.Stat(ctx, media.Uploads, key); !apperr.Is(serr, apperr.NotFound) {
				t.Errorf("the refused upload is still there: %v", serr)
			}
			if tt.code == "" {
				if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
					t.Fatalf("err = %v, want invalid or too_large", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
	t.Run("a conflict leaves the first build's file alone", func(t *testing.T) {
		bs, err := f.svc.ListBuilds(ctx, opsUser, "portal", Android)
		if err != nil || len(bs) != 1 {
			t.Fatalf("builds = %v, %v", bs, err)
		}
		info, err := f.store.Stat(ctx, media.Artifacts, bs[0].ObjectKey)
		if err != nil || info.Size != bs[0].Size {
			t.Fatalf("artifact = %+v, %v", info, err)
		}
	})
	t.Run("an upload key of another app is refused", func(t *testing.T) {
		f.app(t, "other")
		key := f.upload(t, "other", Android, artifacttest.APK{Package: "com.example.other", Build: 1}.Bytes(t))
		_, err := f.svc.CreateBuild(ctx, opsUser, "portal", BuildInput{UploadKey: key})
		wantCode(t, err, apperr.Invalid)
		_, err = f.svc.CreateBuild(ctx, opsUser, "portal", BuildInput{UploadKey: "release-builds/portal/android/../x.apk"})
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("an upload URL needs a sane size", func(t *testing.T) {
		_, err := f.svc.StartUpload(ctx, opsUser, "portal", UploadInput{Platform: Android, Size: MaxBuildSize + 1})
		wantCode(t, err, apperr.TooLarge)
		_, err = f.svc.StartUpload(ctx, opsUser, "portal", UploadInput{Platform: IOS, Size: 10, Filename: "app.apk"})
		wantCode(t, err, apperr.Invalid)
	})
}

func artifactBomb(t *testing.T) []byte { return artifacttest.Bomb(t) }

func TestEditAndDeleteBuild(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	b := f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 7}.Bytes(t))

	t.Run("notes are rendered and sanitized", func(t *testing.T) {
		notes := map[string]string{"en": "[x](javascript:alert(1)) *new*"}
		got, err := f.svc.UpdateBuild(ctx, opsUser, "portal", b.PublicID, BuildPatch{Notes: &notes})
		if err != nil {
			t.Fatal(err)
		}
		if got.NotesHTML["en"] != "<p>x <em>new</em></p>\n" {
			t.Fatalf("html = %q", got.NotesHTML["en"])
		}
		bad := map[string]string{"fr": "non"}
		_, err = f.svc.UpdateBuild(ctx, opsUser, "portal", b.PublicID, BuildPatch{Notes: &bad})
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("an unknown build is not found", func(t *testing.T) {
		_, err := f.svc.UpdateBuild(ctx, opsUser, "portal", "android-8", BuildPatch{})
		wantCode(t, err, apperr.NotFound)
		wantCode(t, f.svc.DeleteBuild(ctx, opsUser, "portal", "nonsense"), apperr.NotFound)
	})
	t.Run("a released build cannot be deleted until halted", func(t *testing.T) {
		tr, err := f.svc.Publish(ctx, opsUser, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: b.PublicID, Percent: 50})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.svc.DeleteBuild(ctx, opsUser, "portal", b.PublicID), apperr.Conflict)
		if _, err := f.svc.ChangeRelease(ctx, opsUser, "portal", Android, "beta", tr.Releases[0].ID, Halt, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteBuild(ctx, opsUser, "portal", b.PublicID); err != nil {
			t.Fatal(err)
		}
		_, err = f.store.Stat(ctx, media.Artifacts, b.ObjectKey)
		wantCode(t, err, apperr.NotFound)
		tracks, err := f.svc.ListTracks(ctx, opsUser, "portal")
		if err != nil || len(tracks) != 1 || len(tracks[0].Releases) != 0 {
			t.Fatalf("tracks = %+v, %v", tracks, err)
		}
	})
	t.Run("a deleted build number can be uploaded again", func(t *testing.T) {
		f.build(t, "portal", Android, artifacttest.APK{Package: "com.example.portal", Build: 7}.Bytes(t))
	})
}
