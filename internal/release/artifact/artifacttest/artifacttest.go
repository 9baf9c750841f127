// Package artifacttest builds real, minimal APK and IPA files (and hostile ones) for tests of
// packages that handle app builds. The files pass artifact.Inspect exactly as a store build
// would; they are built in memory, so keep Pad small.
package artifacttest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"image"
	"image/png"
	"math/rand/v2"
	"strconv"
	"testing"

	"howett.net/plist"
)

// Android manifest attribute resource ids.
const (
	attrLabel         = 0x01010001
	attrIcon          = 0x01010002
	attrMinSdkVersion = 0x0101020c
	attrVersionCode   = 0x0101021b
	attrVersionName   = 0x0101021c
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
	app := elem{name: "application", attrs: []attr{strAttr("label", attrLabel, o.Label)}}
	if !o.NoIcon {
		app.attrs = append(app.attrs, strAttr("icon", attrIcon, iconPath))
	}
	manifest := elem{name: "manifest", attrs: []attr{
		intAttr("versionCode", attrVersionCode, uint32(o.Build)),
		strAttr("versionName", attrVersionName, o.Version),
		strAttr("package", 0, o.Package),
	}, children: []elem{
		{name: "uses-sdk", attrs: []attr{intAttr("minSdkVersion", attrMinSdkVersion, uint32(o.MinSDK))}},
		app,
	}}
	files := []file{{"AndroidManifest.xml", encodeAXML(manifest)}, {"classes.dex", []byte("dex\n035\x00")}}
	if !o.NoIcon {
		files = append(files, file{iconPath, PNG(t, 144)})
	}
	if o.Pad > 0 {
		files = append(files, file{"assets/pad.bin", filler(o.Pad)})
	}
	return zipOf(t, files)
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
	info, err := plist.Marshal(map[string]any{
		"CFBundleIdentifier":         o.BundleID,
		"CFBundleShortVersionString": o.Version,
		"CFBundleVersion":            strconv.FormatInt(o.Build, 10),
		"MinimumOSVersion":           o.MinOS,
		"CFBundleDisplayName":        o.Name,
		"CFBundleIcons": map[string]any{"CFBundlePrimaryIcon": map[string]any{
			"CFBundleIconFiles": []string{"AppIcon60x60"}}},
	}, plist.XMLFormat)
	if err != nil {
		t.Fatal(err)
	}
	const dir = "Payload/Portal.app/"
	files := []file{{dir + "Info.plist", info}, {dir + "AppIcon60x60@2x.png", PNG(t, 120)}, {dir + "Portal", []byte("\xcf\xfa\xed\xfe")}}
	if o.Pad > 0 {
		files = append(files, file{dir + "pad.bin", filler(o.Pad)})
	}
	return zipOf(t, files)
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
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "AndroidManifest.xml", Method: zip.Deflate,
		CompressedSize64: uint64(seg.Len()), UncompressedSize64: 1 << 10}
	fw, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(seg.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PNG returns a real square PNG of the given size.
func PNG(t testing.TB, size int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 0x20, 0x80, 0x40, 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type file struct {
	name string
	data []byte
}

func zipOf(t testing.TB, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// filler returns n pseudo-random bytes, which deflate cannot shrink, from a fixed seed so
// that files stay reproducible.
func filler(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
