// Package artifacttest builds real, minimal APK and IPA files (and hostile ones) for tests of
// packages that handle app builds. The files pass artifact.Inspect exactly as a store build
// would; they are built in memory, so keep Pad small. APK and IPA cover the usual case;
// APKSpec, IPASpec and the encoders under them (EncodeAXML, EncodeARSC, Zip) let the artifact
// package's own tests build every variant and malformed file it must handle, from one
// implementation.
package artifacttest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"strconv"
	"testing"

	"howett.net/plist"
)

// APK describes a test APK. Zero fields take the defaults named on each field.
type APK struct {
	// Package is the package name; default "com.example.portal".
	Package string
	// Build is android:versionCode; default 1.
	Build int64
	// Version is android:versionName; default "1.0.<Build>".
	Version string
	// MinSDK is minSdkVersion; default 24.
	MinSDK int
	// Label is the display name; default "Portal".
	Label string
	// NoIcon leaves the launcher icon out.
	NoIcon bool
	// Pad adds that many bytes of incompressible filler, to make the file larger.
	Pad int
}

// Bytes returns the APK file.
func (o APK) Bytes(t testing.TB) []byte {
	t.Helper()
	if o.Package == "" {
		o.Package = "com.example.portal"
	}
	if o.Build == 0 {
		o.Build = 1
	}
	if o.Version == "" {
		o.Version = "1.0." + strconv.FormatInt(o.Build, 10)
	}
	if o.MinSDK == 0 {
		o.MinSDK = 24
	}
	if o.Label == "" {
		o.Label = "Portal"
	}
	const iconPath = "res/mipmap-xxhdpi-v4/ic_launcher.png"
	app := Elem{Name: "application", Attrs: []Attr{StrAttr("label", attrLabel, o.Label)}}
	if !o.NoIcon {
		app.Attrs = append(app.Attrs, StrAttr("icon", attrIcon, iconPath))
	}
	spec := APKSpec{Manifest: Elem{Name: "manifest", Attrs: []Attr{
		IntAttr("versionCode", attrVersionCode, uint32(o.Build)),
		StrAttr("versionName", attrVersionName, o.Version),
		StrAttr("package", 0, o.Package),
	}, Children: []Elem{
		{Name: "uses-sdk", Attrs: []Attr{IntAttr("minSdkVersion", attrMinSdkVersion, uint32(o.MinSDK))}},
		app,
	}}, Files: map[string][]byte{"classes.dex": []byte("dex\n035\x00")}}
	if !o.NoIcon {
		spec.Files[iconPath] = PNG(t, 144)
	}
	if o.Pad > 0 {
		spec.Files["assets/pad.bin"] = filler(o.Pad)
	}
	return spec.Bytes(t)
}

// IPA describes a test IPA. Zero fields take the defaults named on each field.
type IPA struct {
	// BundleID is CFBundleIdentifier; default "com.example.portal".
	BundleID string
	// Build is CFBundleVersion; default 1.
	Build int64
	// Version is CFBundleShortVersionString; default "1.0.<Build>".
	Version string
	// MinOS is MinimumOSVersion; default "15.0".
	MinOS string
	// Name is CFBundleDisplayName; default "Portal".
	Name string
	// Pad adds that many bytes of incompressible filler.
	Pad int
}

// Bytes returns the IPA file.
func (o IPA) Bytes(t testing.TB) []byte {
	t.Helper()
	if o.BundleID == "" {
		o.BundleID = "com.example.portal"
	}
	if o.Build == 0 {
		o.Build = 1
	}
	if o.Version == "" {
		o.Version = "1.0." + strconv.FormatInt(o.Build, 10)
	}
	if o.MinOS == "" {
		o.MinOS = "15.0"
	}
	if o.Name == "" {
		o.Name = "Portal"
	}
	spec := IPASpec{App: "Portal.app", Format: plist.XMLFormat, Info: map[string]any{
		"CFBundleIdentifier":         o.BundleID,
		"CFBundleShortVersionString": o.Version,
		"CFBundleVersion":            strconv.FormatInt(o.Build, 10),
		"MinimumOSVersion":           o.MinOS,
		"CFBundleDisplayName":        o.Name,
		"CFBundleIcons": map[string]any{"CFBundlePrimaryIcon": map[string]any{
			"CFBundleIconFiles": []string{"AppIcon60x60"}}},
	}, Files: map[string][]byte{"AppIcon60x60@2x.png": PNG(t, 120), "Portal": []byte("\xcf\xfa\xed\xfe")}}
	if o.Pad > 0 {
		spec.Files["pad.bin"] = filler(o.Pad)
	}
	return spec.Bytes(t)
}

// Bomb returns a ZIP that looks like an APK whose manifest header claims 1 KiB but inflates
// to 16 MiB of zeros: artifact.Inspect must refuse it without inflating it all.
func Bomb(t testing.TB) []byte {
	t.Helper()
	var seg bytes.Buffer
	w, _ := flate.NewWriter(&seg, flate.BestCompression)
	_, _ = w.Write(make([]byte, 16<<20))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return Zip(t, ZipEntry{Name: ManifestName, Raw: true, Data: seg.Bytes(), Header: zip.FileHeader{
		Method: zip.Deflate, CompressedSize64: uint64(seg.Len()), UncompressedSize64: 1 << 10}})
}
