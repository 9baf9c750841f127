package release

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

var (
	slugRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)
	// androidPackageRe is Android's rule for package names: dot-separated Java identifiers.
	androidPackageRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)
	// bundleIDRe is Apple's rule for bundle identifiers: letters, digits, hyphens and periods.
	bundleIDRe = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

const (
	maxNameLen    = 100
	maxPackageLen = 155
	maxCap        = 100_000
	maxRetention  = 1000
	maxListItems  = 50
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func validSlug(field, s string) error {
	if !slugRe.MatchString(s) {
		return apperr.Field(field, "%s must be 2 to 32 lowercase letters, digits or hyphens, starting with a letter", field)
	}
	return nil
}

func validPlatform(field string, p Platform) error {
	if p != Android && p != IOS {
		return apperr.Field(field, "platform must be android or ios")
	}
	return nil
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > maxNameLen || strings.ContainsAny(name, "\x00\r\n") {
		return "", apperr.Field("name", "name must be 1 to %d characters on one line", maxNameLen)
	}
	return name, nil
}

func validPackages(android, ios string) error {
	switch {
	case android == "" && ios == "":
		return apperr.Field("android_package", "an app needs an android_package, an ios_bundle_id, or both")
	case android != "" && (len(android) > maxPackageLen || !androidPackageRe.MatchString(android)):
		return apperr.Field("android_package", "android_package must be a package name such as com.example.portal")
	case ios != "" && (len(ios) > maxPackageLen || !bundleIDRe.MatchString(ios)):
		return apperr.Field("ios_bundle_id", "ios_bundle_id must be a bundle identifier such as com.example.portal")
	}
	return nil
}

// validAudience checks a channel's roles and departments and returns them de-duplicated.
func validAudience(roles, departments []string) ([]string, []string, error) {
	var outRoles, outDeps []string
	for _, r := range roles {
		if !auth.ValidRole(auth.Role(r)) {
			return nil, nil, apperr.Field("roles", "unknown role %q", r)
		}
		if !slices.Contains(outRoles, r) {
			outRoles = append(outRoles, r)
		}
	}
	for _, d := range departments {
		d = strings.TrimSpace(d)
		if d == "" || len(d) > maxNameLen {
			return nil, nil, apperr.Field("departments", "departments must be 1 to %d characters", maxNameLen)
		}
		if !slices.Contains(outDeps, d) {
			outDeps = append(outDeps, d)
		}
	}
	if len(outDeps) > maxListItems {
		return nil, nil, apperr.Field("departments", "a channel lists at most %d departments", maxListItems)
	}
	return outRoles, outDeps, nil
}

// parsePublicBuildID splits "<platform>-<build number>"; not_found for anything else, since the
// id comes from a URL.
func parsePublicBuildID(id string) (Platform, int64, error) {
	plat, num, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || validPlatform("build_id", Platform(plat)) != nil {
		return "", 0, apperr.New(apperr.NotFound, "build not found")
	}
	return Platform(plat), n, nil
}
