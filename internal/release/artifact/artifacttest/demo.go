package artifacttest

import (
	"maps"
	"slices"
	"testing"

	"howett.net/plist"
)

// The demo builds, which exercise every way Inspect resolves a label and an icon. Resource
// ids: type 1 is string, type 2 is mipmap.
const (
	ResAppName    = 0x7f010000
	ResVersion    = 0x7f010001
	ResIcon       = 0x7f020000
	ResIconAlias  = 0x7f020001
	DemoPackage   = "com.example.demo"
	DemoBundleID  = "com.example.demo.ios"
	DemoIconMdpi  = "res/mipmap-mdpi-v4/ic_launcher.png"
	DemoIconXXXH  = "res/mipmap-xxxhdpi-v4/ic_launcher.png"
	DemoIconAny   = "res/mipmap-anydpi-v26/ic_launcher.xml"
	DemoIconWebP  = "res/mipmap-xxhdpi-v4/ic_launcher.webp"
	DemoLabelZH   = "演示应用"
	DemoLabelRoot = "Demo App"
)

// Android manifest attribute resource ids.
const (
	attrLabel         = 0x01010001
	attrIcon          = 0x01010002
	attrName          = 0x01010003
	attrMinSdkVersion = 0x0101020c
	attrVersionCode   = 0x0101021b
	attrVersionName   = 0x0101021c
	attrTargetSdk     = 0x01010270
)

// File names artifact.Inspect looks for in an APK.
const (
	ManifestName  = "AndroidManifest.xml"
	ResourcesName = "resources.arsc"
)

// APKSpec describes an APK part by part, for tests that change one part of a typical build.
type APKSpec struct {
	// Manifest is the AndroidManifest.xml document.
	Manifest Elem
	// NoResMap leaves the resource map out of the manifest.
	NoResMap bool
	// Resources is resources.arsc; nil leaves it out.
	Resources []byte
	// Files are the other files, written in name order.
	Files map[string][]byte
	// Extra are written before the manifest.
	Extra []ZipEntry
}

// DemoManifest is a manifest with a resource-referenced label and icon.
func DemoManifest() Elem {
	return Elem{Name: "manifest", Attrs: []Attr{
		IntAttr("versionCode", attrVersionCode, 42),
		StrAttr("versionName", attrVersionName, "1.4.2"),
		StrAttr("package", 0, DemoPackage),
	}, Children: []Elem{
		{Name: "uses-sdk", Attrs: []Attr{IntAttr("minSdkVersion", attrMinSdkVersion, 24), IntAttr("targetSdkVersion", attrTargetSdk, 34)}},
		{Name: "application", Attrs: []Attr{RefAttr("label", attrLabel, ResAppName), RefAttr("icon", attrIcon, ResIcon)},
			Children: []Elem{{Name: "activity", Attrs: []Attr{StrAttr("name", attrName, ".Main")}}}},
	}}
}

// DemoResources resolves the label in two locales and the icon at three densities.
func DemoResources() []byte {
	return EncodeARSC([]string{"string", "mipmap"}, []string{"app_name", "version", "ic_launcher", "ic_alias"}, []ResValue{
		{TypeID: 1, Entry: 0, Str: DemoLabelRoot},
		{TypeID: 1, Entry: 0, Lang: "zh", Str: DemoLabelZH},
		{TypeID: 1, Entry: 1, Str: "9.9.9-from-resources"},
		{TypeID: 2, Entry: 0, Density: 160, Str: DemoIconMdpi},
		{TypeID: 2, Entry: 0, Density: 640, Str: DemoIconXXXH},
		{TypeID: 2, Entry: 0, Density: 0xfffe, Str: DemoIconAny},
		{TypeID: 2, Entry: 1, Ref: ResIcon},
	})
}

// DemoAPK is a typical aapt2 build: versionCode 42, versionName 1.4.2, a label in two
// locales and icons at three densities.
func DemoAPK(t testing.TB) APKSpec {
	return APKSpec{Manifest: DemoManifest(), Resources: DemoResources(), Files: map[string][]byte{
		DemoIconMdpi:  TintedPNG(t, 48, 1),
		DemoIconXXXH:  TintedPNG(t, 192, 2),
		DemoIconAny:   []byte("<adaptive-icon/>"),
		"classes.dex": []byte("dex\n035\x00"),
	}}
}

// Bytes returns the APK file.
func (o APKSpec) Bytes(t testing.TB) []byte {
	t.Helper()
	entries := append([]ZipEntry{}, o.Extra...)
	entries = append(entries, ZipEntry{Name: ManifestName, Data: EncodeAXML(o.Manifest, !o.NoResMap)})
	if o.Resources != nil {
		entries = append(entries, ZipEntry{Name: ResourcesName, Data: o.Resources, Store: true})
	}
	for _, name := range slices.Sorted(maps.Keys(o.Files)) {
		entries = append(entries, ZipEntry{Name: name, Data: o.Files[name]})
	}
	return Zip(t, entries...)
}

// IPASpec describes an IPA part by part.
type IPASpec struct {
	// App is the app directory under Payload/, such as "Demo.app".
	App string
	// Info is the Info.plist content.
	Info map[string]any
	// Format is plist.XMLFormat or plist.BinaryFormat.
	Format int
	// Files are the other files, relative to the app directory, written in name order.
	Files map[string][]byte
	// Extra are written before Info.plist.
	Extra []ZipEntry
}

// DemoIPA is a typical Xcode build: build 57, version 2.0.1, a crushed @3x icon and a nested
// plist that is not the app's.
func DemoIPA(t testing.TB) IPASpec {
	return IPASpec{App: "Demo.app", Format: plist.XMLFormat, Info: map[string]any{
		"CFBundleIdentifier":         DemoBundleID,
		"CFBundleShortVersionString": "2.0.1",
		"CFBundleVersion":            "57",
		"MinimumOSVersion":           "15.0",
		"CFBundleDisplayName":        "Demo",
		"CFBundleName":               "DemoApp",
		"CFBundleIcons": map[string]any{"CFBundlePrimaryIcon": map[string]any{
			"CFBundleIconFiles": []string{"AppIcon60x60"}, "CFBundleIconName": "AppIcon"}},
	}, Files: map[string][]byte{
		"AppIcon60x60@2x.png":                    TintedPNG(t, 120, 3),
		"AppIcon60x60@3x.png":                    CgBI(TintedPNG(t, 180, 4)),
		"AppIcon76x76~ipad.png":                  TintedPNG(t, 76, 5),
		"Demo":                                   []byte("\xcf\xfa\xed\xfe"),
		"Base.lproj/Main.storyboardc/Info.plist": []byte("nested plists are not the app's"),
	}}
}

// Bytes returns the IPA file.
func (o IPASpec) Bytes(t testing.TB) []byte {
	t.Helper()
	info, err := plist.Marshal(o.Info, o.Format)
	if err != nil {
		t.Fatal(err)
	}
	dir := "Payload/" + o.App + "/"
	entries := append([]ZipEntry{}, o.Extra...)
	entries = append(entries, ZipEntry{Name: dir + "Info.plist", Data: info})
	for _, name := range slices.Sorted(maps.Keys(o.Files)) {
		entries = append(entries, ZipEntry{Name: dir + name, Data: o.Files[name]})
	}
	return Zip(t, entries...)
}
