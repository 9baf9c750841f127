package artifact

import (
	"strconv"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
)

// Entry names in an APK.
const (
	androidManifestName = "AndroidManifest.xml"
	resourcesName       = "resources.arsc"
)

// maxIconAttempts bounds how many candidate icon files are read before giving up.
const maxIconAttempts = 4

// inspectAPK reads the metadata of an APK from its compiled manifest, resolving references
// (label, icon, sometimes versionName) through resources.arsc.
func inspectAPK(a *archive) (*Metadata, error) {
	raw, err := a.read(androidManifestName, a.limits.MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "AndroidManifest.xml is not a valid compiled manifest")
	}
	var table *resTable
	if a.files[resourcesName] != nil {
		raw, err := a.read(resourcesName, a.limits.MaxResourcesBytes)
		if err != nil {
			return nil, err
		}
		if table, err = parseTable(raw); err != nil {
			return nil, apperr.Wrap(err, apperr.Invalid, "resources.arsc is not a valid resource table")
		}
	}
	res := newResolver(table)

	md := &Metadata{Platform: PlatformAndroid, PackageID: m.pkg.str}
	if !validPackageID(md.PackageID) {
		return nil, apperr.New(apperr.Invalid, "the manifest's package name %s is not a valid package name", quote(md.PackageID))
	}
	if md.BuildNumber, err = androidBuildNumber(m); err != nil {
		return nil, err
	}
	name, ok := res.str(m.versionName)
	if md.VersionName, ok = cleanVersion(name, ok); !ok {
		return nil, apperr.New(apperr.Invalid, "android:versionName is missing or not a valid version (a short line of text)")
	}
	if md.MinOS, err = androidMinSDK(res, m); err != nil {
		return nil, err
	}
	md.DisplayName = md.PackageID
	if label, ok := res.str(m.label); ok {
		md.DisplayName = cleanDisplayName(label, md.PackageID)
	}
	if md.Icon, err = apkIcon(a, res, m.icon); err != nil {
		return nil, err
	}
	md.IconCgBI = isCgBI(md.Icon)
	return md, nil
}

// androidBuildNumber combines versionCodeMajor (high 32 bits) and versionCode (low 32 bits)
// as Android's getLongVersionCode does.
func androidBuildNumber(m *manifest) (int64, error) {
	code, ok := m.versionCode.int()
	if !ok || code <= 0 || code > 1<<31-1 {
		return 0, apperr.New(apperr.Invalid, "android:versionCode must be a positive integer")
	}
	major := int64(0)
	if m.versionCodeMajor.present {
		if major, ok = m.versionCodeMajor.int(); !ok || major < 0 || major > 1<<31-1 {
			return 0, apperr.New(apperr.Invalid, "android:versionCodeMajor must be a non-negative integer")
		}
	}
	return major<<32 | code, nil
}

// androidMinSDK returns minSdkVersion as a string: a number, or the codename of a preview SDK.
// Android's default, when <uses-sdk> leaves it out, is 1.
func androidMinSDK(res *resolver, m *manifest) (string, error) {
	if !m.minSdk.present {
		return "1", nil
	}
	v := res.resolve(m.minSdk)
	if n, ok := v.int(); ok && n > 0 {
		return strconv.FormatInt(n, 10), nil
	}
	if s, ok := cleanVersion(v.str, v.hasStr); ok && !strings.ContainsAny(s, " ") {
		return s, nil
	}
	return "", apperr.New(apperr.Invalid, "android:minSdkVersion is not a valid SDK version")
}

// apkIcon returns the largest PNG the icon resolves to, or nil: adaptive icons are XML and
// many apps ship WebP, neither of which is a PNG to show.
func apkIcon(a *archive, res *resolver, icon value) ([]byte, error) {
	attempts := 0
	for _, f := range res.iconFiles(icon) {
		lower := strings.ToLower(f.path)
		if !strings.HasSuffix(lower, ".png") || strings.HasSuffix(lower, ".9.png") || a.files[f.path] == nil {
			continue
		}
		if attempts++; attempts > maxIconAttempts {
			break
		}
		data, err := a.readOptional(f.path, a.limits.MaxIconBytes)
		if err != nil {
			return nil, err
		}
		if isPNG(data) {
			return data, nil
		}
	}
	return nil, nil
}
