package artifact

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

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
		modify func(t *testing.T, o *artifacttest.APKSpec)
		want   func(o artifacttest.APKSpec) Metadata
	}{
		{
			name:   "reads a typical build, resolving label and icon through resources",
			modify: func(*testing.T, *artifacttest.APKSpec) {},
			want: func(o artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: artifacttest.DemoLabelRoot, Icon: o.Files[artifacttest.DemoIconXXXH]}
			},
		},
		{
			name: "reads a literal label and no icon without resources.arsc",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.Resources = nil
				app := &o.Manifest.Children[1]
				app.Attrs = []artifacttest.Attr{artifacttest.StrAttr("label", attrLabel, "Literal Label"), artifacttest.RefAttr("icon", attrIcon, artifacttest.ResIcon)}
			},
			want: func(artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: "Literal Label"}
			},
		},
		{
			name: "matches attributes by name when there is no resource map",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.NoResMap = true
			},
			want: func(o artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: artifacttest.DemoLabelRoot, Icon: o.Files[artifacttest.DemoIconXXXH]}
			},
		},
		{
			name: "combines versionCodeMajor and resolves a referenced versionName",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.Manifest.Attrs = []artifacttest.Attr{
					artifacttest.IntAttr("versionCode", attrVersionCode, 7),
					artifacttest.IntAttr("versionCodeMajor", attrVersionCodeMajor, 2),
					artifacttest.RefAttr("versionName", attrVersionName, artifacttest.ResVersion),
					artifacttest.StrAttr("package", 0, artifacttest.DemoPackage),
				}
			},
			want: func(o artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "9.9.9-from-resources",
					BuildNumber: 2<<32 | 7, MinOS: "24", DisplayName: artifacttest.DemoLabelRoot, Icon: o.Files[artifacttest.DemoIconXXXH]}
			},
		},
		{
			name: "follows an icon alias and skips icons that are not PNG",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.Manifest.Children[1].Attrs[1] = artifacttest.RefAttr("icon", attrIcon, artifacttest.ResIconAlias)
				o.Resources = artifacttest.EncodeARSC([]string{"string", "mipmap"}, []string{"app_name", "version", "ic_launcher", "ic_alias"}, []artifacttest.ResValue{
					{TypeID: 1, Entry: 0, Str: artifacttest.DemoLabelRoot},
					{TypeID: 2, Entry: 0, Density: 160, Str: artifacttest.DemoIconMdpi},
					{TypeID: 2, Entry: 0, Density: 480, Str: artifacttest.DemoIconWebP},
					{TypeID: 2, Entry: 1, Ref: artifacttest.ResIcon},
				})
				o.Files[artifacttest.DemoIconWebP] = []byte("RIFF....WEBP")
			},
			want: func(o artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: artifacttest.DemoLabelRoot, Icon: o.Files[artifacttest.DemoIconMdpi]}
			},
		},
		{
			name: "uses Android's default minimum SDK and the package name when uses-sdk and label are absent",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.Manifest.Children = []artifacttest.Elem{{Name: "application"}}
			},
			want: func(artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "1", DisplayName: artifacttest.DemoPackage}
			},
		},
		{
			name: "skips an icon over the icon limit instead of failing",
			modify: func(t *testing.T, o *artifacttest.APKSpec) {
				o.Files[artifacttest.DemoIconXXXH] = append(artifacttest.TintedPNG(t, 192, 2), make([]byte, 3<<20)...)
			},
			want: func(o artifacttest.APKSpec) Metadata {
				return Metadata{Platform: PlatformAndroid, PackageID: artifacttest.DemoPackage, VersionName: "1.4.2", BuildNumber: 42,
					MinOS: "24", DisplayName: artifacttest.DemoLabelRoot, Icon: o.Files[artifacttest.DemoIconMdpi]}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := artifacttest.DemoAPK(t)
			tt.modify(t, &o)
			got, err := inspectBytes(t, o.Bytes(t), Limits{})
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
		modify func(t *testing.T, o *artifacttest.IPASpec)
		want   func(o artifacttest.IPASpec) Metadata
	}{
		{
			name:   "reads an XML Info.plist and the largest app icon, flagged CgBI",
			modify: func(*testing.T, *artifacttest.IPASpec) {},
			want: func(o artifacttest.IPASpec) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: artifacttest.DemoBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "Demo", Icon: o.Files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
		{
			name: "reads a binary Info.plist",
			modify: func(t *testing.T, o *artifacttest.IPASpec) {
				o.Format = plist.BinaryFormat
			},
			want: func(o artifacttest.IPASpec) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: artifacttest.DemoBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "Demo", Icon: o.Files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
		{
			name: "falls back to CFBundleName and legacy icon names",
			modify: func(t *testing.T, o *artifacttest.IPASpec) {
				delete(o.Info, "CFBundleDisplayName")
				delete(o.Info, "CFBundleIcons")
				o.Info["CFBundleIconFiles"] = []string{"Icon.png", "Icon@2x.png"}
				o.Files = map[string][]byte{"Icon.png": artifacttest.TintedPNG(t, 57, 6), "Icon@2x.png": artifacttest.TintedPNG(t, 114, 7)}
			},
			want: func(o artifacttest.IPASpec) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: artifacttest.DemoBundleID, VersionName: "2.0.1", BuildNumber: 57,
					MinOS: "15.0", DisplayName: "DemoApp", Icon: o.Files["Icon@2x.png"]}
			},
		},
		{
			name: "ignores an icon dictionary of an unexpected shape",
			modify: func(t *testing.T, o *artifacttest.IPASpec) {
				o.Info["CFBundleIcons"] = "AppIcon"
				delete(o.Info, "MinimumOSVersion")
			},
			want: func(o artifacttest.IPASpec) Metadata {
				return Metadata{Platform: PlatformIOS, PackageID: artifacttest.DemoBundleID, VersionName: "2.0.1", BuildNumber: 57,
					DisplayName: "Demo", Icon: o.Files["AppIcon60x60@3x.png"], IconCgBI: true}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := artifacttest.DemoIPA(t)
			tt.modify(t, &o)
			got, err := inspectBytes(t, o.Bytes(t), Limits{})
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
	o := artifacttest.DemoIPA(t)
	for i := range 70_000 {
		o.Extra = append(o.Extra, artifacttest.ZipEntry{Name: fmt.Sprintf("Payload/Demo.app/Assets/%05d", i), Store: true})
	}
	b := o.Bytes(t)
	if !bytes.Contains(b[len(b)-200:], []byte("PK\x06\x06")) {
		t.Fatal("the test archive has no ZIP64 end record")
	}
	got, err := inspectBytes(t, b, Limits{})
	if err != nil || got.PackageID != artifacttest.DemoBundleID || got.BuildNumber != 57 {
		t.Fatalf("Inspect = %+v, %v", got, err)
	}
	t.Run("still counts its entries against the limit", func(t *testing.T) {
		_, err := inspectBytes(t, b, Limits{MaxEntries: 69_999})
		if apperr.CodeOf(err) != apperr.TooLarge {
			t.Fatalf("Inspect: %v; want too_large", err)
		}
	})
}
