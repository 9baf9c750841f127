package artifacttest

import (
	"bytes"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/release/artifact"
)

func TestBuildersMakeFilesInspectAccepts(t *testing.T) {
	t.Run("an APK reports what it was built with", func(t *testing.T) {
		b := APK{Package: "com.acme.field", Build: 230, Version: "2.3.0", MinSDK: 26, Label: "Field", Pad: 4096}.Bytes(t)
		md, err := artifact.Inspect(bytes.NewReader(b), int64(len(b)), artifact.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := artifact.Metadata{Platform: "android", PackageID: "com.acme.field", VersionName: "2.3.0",
			BuildNumber: 230, MinOS: "26", DisplayName: "Field"}
		if md.Icon == nil {
			t.Error("the icon is missing")
		}
		md.Icon = nil
		if md.Platform != want.Platform || md.PackageID != want.PackageID || md.VersionName != want.VersionName ||
			md.BuildNumber != want.BuildNumber || md.MinOS != want.MinOS || md.DisplayName != want.DisplayName {
			t.Errorf("metadata = %+v, want %+v", *md, want)
		}
	})
	t.Run("an IPA reports what it was built with", func(t *testing.T) {
		b := IPA{BundleID: "com.acme.field", Build: 57, Version: "2.0.1", MinOS: "16.0", Name: "Field"}.Bytes(t)
		md, err := artifact.Inspect(bytes.NewReader(b), int64(len(b)), artifact.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if md.Platform != "ios" || md.PackageID != "com.acme.field" || md.BuildNumber != 57 ||
			md.VersionName != "2.0.1" || md.MinOS != "16.0" || md.DisplayName != "Field" || md.Icon == nil {
			t.Errorf("metadata = %+v", *md)
		}
	})
	t.Run("a bomb is refused as a client error", func(t *testing.T) {
		b := Bomb(t)
		_, err := artifact.Inspect(bytes.NewReader(b), int64(len(b)), artifact.Limits{})
		if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.TooLarge {
			t.Fatalf("err = %v (code %q), want invalid or too_large", err, c)
		}
	})
}
