package artifact

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"image"
	"image/png"
	"slices"
	"testing"

	"howett.net/plist"
)

// zipEntry is one file of a test archive. With raw set, data is written as is under the
// given header (to forge sizes, CRCs, flags and methods).
type zipEntry struct {
	name   string
	data   []byte
	store  bool
	raw    bool
	header zip.FileHeader
}

func buildZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.raw {
			h := e.header
			h.Name = e.name
			w, err := zw.CreateRaw(&h)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(e.data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		method := zip.Deflate
		if e.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngOf returns a real PNG of the given size, tinted so that icons differ.
func pngOf(t testing.TB, size int, tint uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = tint, 0x80, 0x40, 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cgbiOf turns a PNG into the shape of an Xcode-crushed one: a CgBI chunk before IHDR. The
// rest is left as is; Inspect only detects the flag.
func cgbiOf(p []byte) []byte {
	var c le
	c.Write([]byte{0, 0, 0, 4})
	c.WriteString("CgBI")
	c.Write([]byte{0x50, 0, 0x20, 0x06})
	c.Write(crcBE(crc32.ChecksumIEEE(c.Bytes()[4:])))
	out := append([]byte{}, p[:8]...)
	out = append(out, c.Bytes()...)
	return append(out, p[8:]...)
}

func crcBE(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// Resource ids in the test APKs: type 1 is string, type 2 is mipmap.
const (
	resAppName    = 0x7f010000
	resVersion    = 0x7f010001
	resIcon       = 0x7f020000
	resIconAlias  = 0x7f020001
	testPackage   = "com.example.demo"
	testBundleID  = "com.example.demo.ios"
	testIconMdpi  = "res/mipmap-mdpi-v4/ic_launcher.png"
	testIconXXXH  = "res/mipmap-xxxhdpi-v4/ic_launcher.png"
	testIconAny   = "res/mipmap-anydpi-v26/ic_launcher.xml"
	testIconWebP  = "res/mipmap-xxhdpi-v4/ic_launcher.webp"
	testLabelZH   = "演示应用"
	testLabelRoot = "Demo App"
)

// apkOptions describes a test APK. The zero value plus defaultAPK is a typical aapt2 build.
type apkOptions struct {
	manifest  xmlElem
	noResMap  bool
	resources []byte // nil: no resources.arsc
	files     map[string][]byte
	extra     []zipEntry // written before the manifest
}

// defaultManifest is a manifest with a resource-referenced label and icon.
func defaultManifest() xmlElem {
	return xmlElem{name: "manifest", attrs: []xmlAttr{
		intAttr("versionCode", attrVersionCode, 42),
		strAttr("versionName", attrVersionName, "1.4.2"),
		strAttr("package", 0, testPackage),
	}, children: []xmlElem{
		{name: "uses-sdk", attrs: []xmlAttr{intAttr("minSdkVersion", attrMinSdkVersion, 24), intAttr("targetSdkVersion", 0x01010270, 34)}},
		{name: "application", attrs: []xmlAttr{refAttr("label", attrLabel, resAppName), refAttr("icon", attrIcon, resIcon)},
			children: []xmlElem{{name: "activity", attrs: []xmlAttr{strAttr("name", 0x01010003, ".Main")}}}},
	}}
}

// defaultResources resolves the label in two locales and the icon at three densities.
func defaultResources() []byte {
	return encodeARSC([]string{"string", "mipmap"}, []string{"app_name", "version", "ic_launcher", "ic_alias"}, []resValue{
		{typeID: 1, entry: 0, str: testLabelRoot},
		{typeID: 1, entry: 0, lang: "zh", str: testLabelZH},
		{typeID: 1, entry: 1, str: "9.9.9-from-resources"},
		{typeID: 2, entry: 0, density: 160, str: testIconMdpi},
		{typeID: 2, entry: 0, density: 640, str: testIconXXXH},
		{typeID: 2, entry: 0, density: 0xfffe, str: testIconAny},
		{typeID: 2, entry: 1, ref: resIcon},
	})
}

func defaultAPK(t testing.TB) apkOptions {
	return apkOptions{manifest: defaultManifest(), resources: defaultResources(), files: map[string][]byte{
		testIconMdpi:  pngOf(t, 48, 1),
		testIconXXXH:  pngOf(t, 192, 2),
		testIconAny:   []byte("<adaptive-icon/>"),
		"classes.dex": []byte("dex\n035\x00"),
	}}
}

func buildAPK(t testing.TB, o apkOptions) []byte {
	t.Helper()
	entries := append([]zipEntry{}, o.extra...)
	entries = append(entries, zipEntry{name: androidManifestName, data: encodeAXML(o.manifest, !o.noResMap)})
	if o.resources != nil {
		entries = append(entries, zipEntry{name: resourcesName, data: o.resources, store: true})
	}
	for _, name := range sortedKeys(o.files) {
		entries = append(entries, zipEntry{name: name, data: o.files[name]})
	}
	return buildZip(t, entries...)
}

// ipaOptions describes a test IPA.
type ipaOptions struct {
	app    string // "Demo.app"
	info   map[string]any
	format int               // plist.XMLFormat or plist.BinaryFormat
	files  map[string][]byte // relative to the app directory
	extra  []zipEntry
}

func defaultIPA(t testing.TB) ipaOptions {
	return ipaOptions{app: "Demo.app", format: plist.XMLFormat, info: map[string]any{
		"CFBundleIdentifier":         testBundleID,
		"CFBundleShortVersionString": "2.0.1",
		"CFBundleVersion":            "57",
		"MinimumOSVersion":           "15.0",
		"CFBundleDisplayName":        "Demo",
		"CFBundleName":               "DemoApp",
		"CFBundleIcons": map[string]any{"CFBundlePrimaryIcon": map[string]any{
			"CFBundleIconFiles": []string{"AppIcon60x60"}, "CFBundleIconName": "AppIcon"}},
	}, files: map[string][]byte{
		"AppIcon60x60@2x.png":                    pngOf(t, 120, 3),
		"AppIcon60x60@3x.png":                    cgbiOf(pngOf(t, 180, 4)),
		"AppIcon76x76~ipad.png":                  pngOf(t, 76, 5),
		"Demo":                                   []byte("\xcf\xfa\xed\xfe"),
		"Base.lproj/Main.storyboardc/Info.plist": []byte("nested plists are not the app's"),
	}}
}

func buildIPA(t testing.TB, o ipaOptions) []byte {
	t.Helper()
	info, err := plist.Marshal(o.info, o.format)
	if err != nil {
		t.Fatal(err)
	}
	dir := "Payload/" + o.app + "/"
	entries := append([]zipEntry{}, o.extra...)
	entries = append(entries, zipEntry{name: dir + "Info.plist", data: info})
	for _, name := range sortedKeys(o.files) {
		entries = append(entries, zipEntry{name: dir + name, data: o.files[name]})
	}
	return buildZip(t, entries...)
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
