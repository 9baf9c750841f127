package artifact

import (
	"strconv"
)

// A compiled AndroidManifest.xml is an XML chunk holding a string pool, a resource map
// (string index -> attribute resource id) and start/end element chunks. This reader extracts
// only the attributes Inspect needs. It does not use github.com/shogo82148/androidbinary for
// untrusted files: that parser allocates from counts in the file before checking them (a
// 40-byte string pool header asks for gigabytes) and loops forever on a zero-sized chunk in
// resources.arsc. The tests use it as an independent oracle for the files they build.

// androidNS is the namespace URI of android:* attributes.
const androidNS = "http://schemas.android.com/apk/res/android"

// Resource ids of the android:* attributes read here (android.R.attr).
const (
	attrLabel            = 0x01010001
	attrIcon             = 0x01010002
	attrMinSdkVersion    = 0x0101020c
	attrVersionCode      = 0x0101021b
	attrVersionName      = 0x0101021c
	attrVersionCodeMajor = 0x01010576
)

// Res_value data types.
const (
	typeReference        = 0x01
	typeString           = 0x03
	typeIntDec           = 0x10
	typeIntHex           = 0x11
	typeDynamicReference = 0x07
)

// value is an attribute or resource value: a raw string when the file carries one, and the
// typed value.
type value struct {
	present bool
	str     string
	hasStr  bool
	typ     uint8
	data    uint32
}

// isRef reports whether v points at a resource in resources.arsc.
func (v value) isRef() bool {
	return v.present && (v.typ == typeReference || v.typ == typeDynamicReference) && v.data != 0
}

// int returns v as an integer: a typed int, or a decimal string.
func (v value) int() (int64, bool) {
	switch {
	case v.typ == typeIntDec || v.typ == typeIntHex:
		return int64(int32(v.data)), true
	case v.hasStr:
		n, err := strconv.ParseInt(v.str, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// manifest holds the attributes of AndroidManifest.xml that Inspect reads.
type manifest struct {
	pkg                                 value
	versionCode, versionCodeMajor       value
	versionName, minSdk, label, icon    value
	hasRoot, hasUsesSDK, hasApplication bool
}

// parseManifest reads a compiled AndroidManifest.xml. The root must be <manifest>; <uses-sdk>
// and <application> count only as its direct children, the first of each.
func parseManifest(b []byte) (*manifest, error) {
	root, err := readChunk(b)
	if err != nil || root.typ != chunkXML {
		return nil, errMalformed
	}
	var (
		m      manifest
		pool   *stringPool
		resMap []byte
		depth  int
	)
	err = root.children(func(c chunk) error {
		switch c.typ {
		case chunkStringPool:
			if pool == nil {
				p, err := parseStringPool(c)
				pool = p
				return err
			}
		case chunkXMLResMap:
			if resMap == nil {
				resMap = c.data[len(c.header):]
			}
		case chunkXMLEndElem:
			if depth--; depth < 0 {
				return errMalformed
			}
		case chunkXMLStartElem:
			depth++
			el, err := parseElement(c, pool, resMap)
			if err != nil {
				return err
			}
			return m.visit(el, depth)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !m.hasRoot {
		return nil, errMalformed
	}
	return &m, nil
}

// visit records the attributes of el, found at depth (1 for the root).
func (m *manifest) visit(el element, depth int) error {
	switch {
	case depth == 1 && m.hasRoot:
		return errMalformed // a second root element
	case depth == 1:
		if el.name != "manifest" {
			return errMalformed
		}
		m.hasRoot = true
		m.pkg = el.plain("package")
		m.versionCode = el.android(attrVersionCode, "versionCode")
		m.versionCodeMajor = el.android(attrVersionCodeMajor, "versionCodeMajor")
		m.versionName = el.android(attrVersionName, "versionName")
	case depth == 2 && el.name == "uses-sdk" && !m.hasUsesSDK:
		m.hasUsesSDK = true
		m.minSdk = el.android(attrMinSdkVersion, "minSdkVersion")
	case depth == 2 && el.name == "application" && !m.hasApplication:
		m.hasApplication = true
		m.label = el.android(attrLabel, "label")
		m.icon = el.android(attrIcon, "icon")
	}
	return nil
}
