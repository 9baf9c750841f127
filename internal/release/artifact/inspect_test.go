package artifact

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
)

func inspectBytes(t testing.TB, b []byte, limits Limits) (*Metadata, error) {
	t.Helper()
	return Inspect(bytes.NewReader(b), int64(len(b)), limits)
}

func TestInspectAPK(t *testing.T) {
	tests := []struct {
		name   string
		modify func(t *testing.T, o *apkOptions)
		want   func(o apkOptions) Metadata
	}{
		{
			name:   "reads a typical build, resolving label and icon through resources",
			modify: func(*testing.T, *apkOptions) {},
			want: func(o apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: testLabelRoot, Icon: o.files[testIconXXXH]}
			},
		},
		{
			name: "reads a literal label and no icon without resources.arsc",
			modify: func(t *testing.T, o *apkOptions) {
				o.resources = nil
				app := &o.manifest.children[1]
				app.attrs = []xmlAttr{strAttr("label", attrLabel, "Literal Label"), refAttr("icon", attrIcon, resIcon)}
			},
			want: func(apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: "Literal Label"}
			},
		},
		{
			name: "matches attributes by name when there is no resource map",
			modify: func(t *testing.T, o *apkOptions) {
				o.noResMap = true
			},
			want: func(o apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: testLabelRoot, Icon: o.files[testIconXXXH]}
			},
		},
		{
			name: "combines versionCodeMajor and resolves a referenced versionName",
			modify: func(t *testing.T, o *apkOptions) {
				o.manifest.attrs = []xmlAttr{
					intAttr("versionCode", attrVersionCode, 7),
					intAttr("versionCodeMajor", attrVersionCodeMajor, 2),
					refAttr("versionName", attrVersionName, resVersion),
					strAttr("package", 0, testPackage),
				}
			},
			want: func(o apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "9.9.9-from-resources",
					BuildNumber: 2<<32 | 7, MinOS: "24", DisplayName: testLabelRoot, Icon: o.files[testIconXXXH]}
			},
		},
		{
			name: "follows an icon alias and skips icons that are not PNG",
			modify: func(t *testing.T, o *apkOptions) {
				o.manifest.children[1].attrs[1] = refAttr("icon", attrIcon, resIconAlias)
				o.resources = encodeARSC([]string{"string", "mipmap"}, []string{"app_name", "version", "ic_launcher", "ic_alias"}, []resValue{
					{typeID: 1, entry: 0, str: testLabelRoot},
					{typeID: 2, entry: 0, density: 160, str: testIconMdpi},
					{typeID: 2, entry: 0, density: 480, str: testIconWebP},
					{typeID: 2, entry: 1, ref: resIcon},
				})
				o.files[testIconWebP] = []byte("RIFF....WEBP")
			},
			want: func(o apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: testLabelRoot, Icon: o.files[testIconMdpi]}
			},
		},
		{
			name: "uses Android's default minimum SDK and the package name when uses-sdk and label are absent",
			modify: func(t *testing.T, o *apkOptions) {
				o.manifest.children = []xmlElem{{name: "application"}}
			},
			want: func(apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "1", DisplayName: testPackage}
			},
		},
		{
			name: "skips an icon over the icon limit instead of failing",
			modify: func(t *testing.T, o *apkOptions) {
				o.files[testIconXXXH] = append(pngOf(t, 192, 2), make([]byte, 3<<20)...)
			},
			want: func(o apkOptions) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: testPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: testLabelRoot, Icon: o.files[testIconMdpi]}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultAPK(t)
			tt.modify(t, &o)
			got, err := inspectBytes(t, buildAPK(t, o), Limits{})
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(tt.want(o), *got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInspectIPA(t *testing.T) {
	tests := []struct {
		name   string
		modify func(t *testing.T, o *ipaOptions)
		want   func(o ipaOptions) Metadata
	}{
		{
			name:   "reads an XML Info.plist and the largest app icon, flagged CgBI",
			modify: func(*testing.T, *ipaOptions) {},
			want: func(o ipaOptions) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: testBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "Demo", Icon: o.files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
		{
			name: "reads a binary Info.plist",
			modify: func(t *testing.T, o *ipaOptions) {
				o.format = plist.BinaryFormat
			},
			want: func(o ipaOptions) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: testBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "Demo", Icon: o.files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
		{
			name: "falls back to CFBundleName and legacy icon names",
			modify: func(t *testing.T, o *ipaOptions) {
				delete(o.info, "CFBundleDisplayName")
				delete(o.info, "CFBundleIcons")
				o.info["CFBundleIconFiles"] = []string{"Icon.png", "Icon@2x.png"}
				o.files = map[string][]byte{"Icon.png": pngOf(t, 57, 6), "Icon@2x.png": pngOf(t, 114, 7)}
			},
			want: func(o ipaOptions) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: testBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "DemoApp", Icon: o.files["Icon@2x.png"]}
			},
		},
		{
			name: "ignores an icon dictionary of an unexpected shape",
			modify: func(t *testing.T, o *ipaOptions) {
				o.info["CFBundleIcons"] = "AppIcon"
				delete(o.info, "MinimumOSVersion")
			},
			want: func(o ipaOptions) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: testBundleID, VersionName: "2.0.1", BuildNumber: 57,
					DisplayName: "Demo", Icon: o.files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultIPA(t)
			tt.modify(t, &o)
			got, err := inspectBytes(t, buildIPA(t, o), Limits{})
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(tt.want(o), *got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInspectReadsZIP64Archives uses more entries than the classic end record can count, so
// the archive carries ZIP64 end records, which large IPAs do.
func TestInspectReadsZIP64Archives(t *testing.T) {
	o := defaultIPA(t)
	for i := range 70_000 {
		o.extra = append(o.extra, zipEntry{name: fmt.Sprintf("Payload/Demo.app/Assets/%05d", i), store: true})
	}
	b := buildIPA(t, o)
	if !bytes.Contains(b[len(b)-200:], []byte("PK\x06\x06")) {
		t.Fatal("the test archive has no ZIP64 end record")
	}
	got, err := inspectBytes(t, b, Limits{})
	if err != nil || got.PackageID != testBundleID || got.BuildNumber != 57 {
		t.Fatalf("Inspect = %+v, %v", got, err)
	}
	t.Run("still counts its entries against the limit", func(t *testing.T) {
		_, err := inspectBytes(t, b, Limits{MaxEntries: 69_999})
		if apperr.CodeOf(err) != apperr.TooLarge {
			t.Fatalf("Inspect: %v; want too_large", err)
		}
	})
}
