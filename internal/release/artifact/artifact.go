// Package artifact reads app build metadata (package id, version, build number, minimum OS,
// display name, icon) from the build files themselves: APKs and IPAs. It reads through an
// io.ReaderAt, so a build in object storage is inspected with a handful of ranged reads of a few
// kilobytes each instead of a download, and it never holds the whole file in memory.
//
// Every file is treated as hostile. Sizes in ZIP headers are limits to enforce, never facts to
// trust; every decompression is bounded by Limits; the binary Android formats are parsed by a
// small bounds-checked reader of our own (see axml.go) rather than a general-purpose library.
// Failures are *apperr.Error values with code invalid or too_large and stable messages, except
// errors from the io.ReaderAt itself (storage unavailable, object replaced), which pass through
// unchanged so their codes survive.
package artifact

import (
	"io"

	"github.com/mportal/mportal/internal/apperr"
)

// The platforms a build can be for, as stored in Metadata.Platform.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
)

// Metadata describes one app build as its own manifest declares it.
type Metadata struct {
	// Platform is PlatformAndroid or PlatformIOS.
	Platform string
	// PackageID is the Android package name or the iOS CFBundleIdentifier.
	PackageID string
	// VersionName is the human version: android:versionName or CFBundleShortVersionString.
	VersionName string
	// BuildNumber orders builds of one app: android:versionCode (with versionCodeMajor in the
	// high 32 bits) or CFBundleVersion, which must be a positive integer.
	BuildNumber int64
	// MinOS is the lowest supported OS: minSdkVersion as a decimal string ("1" when the
	// manifest leaves it out, as Android does) or MinimumOSVersion ("" when absent).
	MinOS string
	// DisplayName is the name shown under the icon, falling back to PackageID.
	DisplayName string
	// Icon holds the PNG bytes of the largest launcher icon found, or nil.
	Icon []byte
	// IconCgBI reports that Icon is an Xcode-optimised ("CgBI") PNG: byte-swapped, with
	// premultiplied alpha and a headerless zlib stream, which most PNG decoders reject.
	IconCgBI bool
}

// Limits bound the work and memory one Inspect call may spend. A zero field takes its value
// from DefaultLimits, so Limits{} is a sensible argument.
type Limits struct {
	// MaxEntries is the most files the archive may list.
	MaxEntries int
	// MaxDirectoryBytes bounds the ZIP central directory (and anything after it), which is
	// read into memory in one piece.
	MaxDirectoryBytes int64
	// MaxManifestBytes bounds AndroidManifest.xml and Info.plist, uncompressed.
	MaxManifestBytes int64
	// MaxResourcesBytes bounds resources.arsc, uncompressed.
	MaxResourcesBytes int64
	// MaxIconBytes bounds the icon. A larger icon is skipped, not an error: the icon is
	// decoration and must not make a build unpublishable.
	MaxIconBytes int64
}

// DefaultLimits returns limits that accept real-world builds with a wide margin: large games
// ship around 30,000 files and resource tables of 10-20 MiB.
func DefaultLimits() Limits {
	return Limits{
		MaxEntries:        100_000,
		MaxDirectoryBytes: 32 << 20,
		MaxManifestBytes:  4 << 20,
		MaxResourcesBytes: 64 << 20,
		MaxIconBytes:      2 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxDirectoryBytes <= 0 {
		l.MaxDirectoryBytes = d.MaxDirectoryBytes
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = d.MaxManifestBytes
	}
	if l.MaxResourcesBytes <= 0 {
		l.MaxResourcesBytes = d.MaxResourcesBytes
	}
	if l.MaxIconBytes <= 0 {
		l.MaxIconBytes = d.MaxIconBytes
	}
	return l
}

// Inspect reads the build metadata of the APK or IPA of the given size behind r, telling the
// two apart by content, not by file name. It returns invalid when the file is not a ZIP
// archive, is neither an APK nor an IPA, is corrupt, or declares unusable metadata (such as a
// non-integer CFBundleVersion), and too_large when any part exceeds limits. Errors returned
// by r itself are passed through, wrapped.
func Inspect(r io.ReaderAt, size int64, limits Limits) (_ *Metadata, err error) {
	defer apperr.Wrapf(&err, "artifact: inspect")
	if size <= 0 {
		return nil, apperr.New(apperr.Invalid, "the file is empty")
	}
	a, err := openArchive(r, size, limits.withDefaults())
	if err != nil {
		return nil, err
	}
	app, err := a.iosAppDir()
	if err != nil {
		return nil, err
	}
	_, isAPK := a.files[androidManifestName]
	switch {
	case isAPK && app != "":
		return nil, apperr.New(apperr.Invalid, "the archive contains both an Android and an iOS app")
	case isAPK:
		return inspectAPK(a)
	case app != "":
		return inspectIPA(a, app)
	}
	return nil, apperr.New(apperr.Invalid, "the file is neither an APK nor an IPA")
}
