package artifact

import (
	"bytes"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

	"github.com/shogo82148/androidbinary"
	"github.com/shogo82148/androidbinary/apk"
)

// TestEncodedAPKMatchesAnIndependentParser checks the test encoder against
// github.com/shogo82148/androidbinary: if both parsers read the same values from the APKs the
// tests build, the tests exercise the real formats, not a private dialect of them.
func TestEncodedAPKMatchesAnIndependentParser(t *testing.T) {
	b := artifacttest.DemoAPK(t).Bytes(t)
	k, err := apk.OpenZipReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("androidbinary cannot open the test APK: %v", err)
	}
	m := k.Manifest()
	// With no locale androidbinary prefers the most specific value; Inspect takes the
	// default-locale one, which is what a locale without a translation sees.
	label, err := k.Label(&androidbinary.ResTableConfig{Language: [2]uint8{'e', 'n'}})
	if err != nil {
		t.Fatalf("androidbinary label: %v", err)
	}
	code, _ := m.VersionCode.Int32()
	minSDK, _ := m.SDK.Min.Int32()
	name, _ := m.VersionName.String()
	if k.PackageName() != artifacttest.DemoPackage || code != 42 || name != "1.4.2" || minSDK != 24 || label != artifacttest.DemoLabelRoot {
		t.Errorf("androidbinary read package %q, versionCode %d, versionName %q, minSdk %d, label %q",
			k.PackageName(), code, name, minSDK, label)
	}
	icon, err := m.App.Icon.WithResTableConfig(&androidbinary.ResTableConfig{Density: 640}).String()
	if err != nil || icon != artifacttest.DemoIconXXXH {
		t.Errorf("androidbinary resolved the xxxhdpi icon to %q, %v", icon, err)
	}
	zh, err := m.App.Label.WithResTableConfig(&androidbinary.ResTableConfig{Language: [2]uint8{'z', 'h'}}).String()
	if err != nil || zh != artifacttest.DemoLabelZH {
		t.Errorf("androidbinary resolved the zh label to %q, %v", zh, err)
	}

	got, err := inspectBytes(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got.PackageID != k.PackageName() || got.BuildNumber != int64(code) || got.DisplayName != label {
		t.Errorf("Inspect read %s/%d/%s, androidbinary %s/%d/%s", got.PackageID, got.BuildNumber, got.DisplayName,
			k.PackageName(), code, label)
	}
}
