package artifact

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"

	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
)

// infoPlist is the part of Info.plist that Inspect reads. Decoding into typed fields, never
// into interface values, matters for binary plists: their objects can be shared, and
// expanding a shared object graph into maps and slices can take exponential memory.
type infoPlist struct {
	BundleID     string `plist:"CFBundleIdentifier"`
	ShortVersion string `plist:"CFBundleShortVersionString"`
	Version      string `plist:"CFBundleVersion"`
	MinOS        string `plist:"MinimumOSVersion"`
	DisplayName  string `plist:"CFBundleDisplayName"`
	Name         string `plist:"CFBundleName"`
}

// iconPlist names the app's icon files. It is decoded separately from infoPlist because its
// shape varies between Xcode versions; an unexpected shape costs the icon hints, not the build.
type iconPlist struct {
	Icons     bundleIcons `plist:"CFBundleIcons"`
	IconsPad  bundleIcons `plist:"CFBundleIcons~ipad"`
	IconFiles []string    `plist:"CFBundleIconFiles"`
	IconFile  string      `plist:"CFBundleIconFile"`
}

type bundleIcons struct {
	Primary struct {
		Files []string `plist:"CFBundleIconFiles"`
	} `plist:"CFBundlePrimaryIcon"`
}

// inspectIPA reads the metadata of the app in appDir ("Payload/Demo.app/") from its
// Info.plist, binary or XML.
func inspectIPA(a *archive, appDir string) (*Metadata, error) {
	raw, err := a.read(appDir+"Info.plist", a.limits.MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	var info infoPlist
	if err := decodePlist(raw, &info); err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "Info.plist is not a valid property list")
	}
	md := &Metadata{Platform: PlatformIOS, PackageID: info.BundleID}
	if !validPackageID(md.PackageID) {
		return nil, apperr.New(apperr.Invalid, "CFBundleIdentifier %s is missing or not a valid bundle identifier", quote(md.PackageID))
	}
	if md.BuildNumber, err = iosBuildNumber(info.Version); err != nil {
		return nil, err
	}
	var ok bool
	if md.VersionName, ok = cleanVersion(info.ShortVersion, true); !ok {
		return nil, apperr.New(apperr.Invalid, "CFBundleShortVersionString is missing or not a valid version (a short line of text)")
	}
	if info.MinOS != "" {
		if md.MinOS, ok = cleanVersion(info.MinOS, true); !ok {
			return nil, apperr.New(apperr.Invalid, "MinimumOSVersion is not a valid version")
		}
	}
	md.DisplayName = cleanDisplayName(info.DisplayName, cleanDisplayName(info.Name, md.PackageID))

	var icons iconPlist
	if decodePlist(raw, &icons) != nil {
		icons = iconPlist{}
	}
	if md.Icon, err = ipaIcon(a, appDir, icons.names()); err != nil {
		return nil, err
	}
	md.IconCgBI = isCgBI(md.Icon)
	return md, nil
}

// iosBuildNumber parses CFBundleVersion. iOS allows "1.2.3" there, but mportal orders builds
// of an app by one integer, so it requires one.
func iosBuildNumber(s string) (int64, error) {
	var n int64
	for i, c := range []byte(s) {
		if c < '0' || c > '9' || i >= 18 {
			n = 0
			break
		}
		n = n*10 + int64(c-'0')
	}
	if n <= 0 {
		return 0, apperr.New(apperr.Invalid,
			"CFBundleVersion %s is not a build number: mportal requires a positive integer (such as 42) to order builds", quote(s))
	}
	return n, nil
}

// decodePlist decodes a binary, XML or OpenStep property list into v. The decoder is a
// third-party parser fed hostile input, so a panic in it is reported as an error rather than
// taking the server down.
func decodePlist(data []byte, v any) (err error) {
	if err := checkPlistShape(data); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plist decoder panicked: %v", r)
		}
	}()
	return plist.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// Bounds on an Info.plist's shape, far above any real one's (a few hundred objects, a depth
// under ten).
const (
	maxPlistObjects = 1 << 16
	maxPlistDepth   = 64
)

// checkPlistShape refuses, before the decoder sees them, the property lists that would take the
// process down rather than fail: the decoder recurses once per level of nesting without a bound
// (4 MiB of "(" in the text format overflowed the stack, a fatal error no recover catches), and
// a binary list whose trailer declares 0-byte offsets and 2^40 objects passed its checks into
// make([]cfValue, 2^40). Xcode writes Info.plist as XML or binary, never in the text format.
func checkPlistShape(data []byte) error {
	if bytes.HasPrefix(data, []byte("bplist")) {
		if len(data) < 40 {
			return errors.New("binary property list too short")
		}
		t := data[len(data)-32:]
		offsetSize, refSize, objects := t[6], t[7], binary.BigEndian.Uint64(t[8:16])
		if !slices.Contains([]byte{1, 2, 4, 8}, offsetSize) || !slices.Contains([]byte{1, 2, 4, 8}, refSize) {
			return errors.New("binary property list with invalid integer sizes")
		}
		if objects > maxPlistObjects || objects > uint64(len(data)) {
			return fmt.Errorf("binary property list with %d objects", objects)
		}
		return nil
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if !bytes.HasPrefix(trimmed, []byte("<")) {
		return errors.New("not an XML or binary property list")
	}
	// Every element counts, however it is spelled: the decoder recurses on each by its local
	// name (<plist>, <array >, <x:dict a="">), and counting only "<array>" and "<dict>" let 4 MiB
	// of "<plist>" through, half a gigabyte of stack.
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	for depth := 0; ; {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not an XML property list: %w", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxPlistDepth {
				return fmt.Errorf("property list nested deeper than %d", maxPlistDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}
