package directory

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
)

// Device platforms.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
)

// DefaultChannel is the release channel of a device that names none.
const DefaultChannel = "stable"

const (
	maxDeviceField = 64
	maxAppID       = 128
	maxChannel     = 32
	maxPushToken   = 4096
	// MaxBuildNumber is the largest build number: Android's versionCode is a Java int.
	MaxBuildNumber = math.MaxInt32
)

// validAppID accepts reverse-DNS identifiers as Android package names and iOS bundle ids use
// them: at least two dot-separated segments of letters, digits, '_' and '-'.
func validAppID(s string) error {
	segments := strings.Split(s, ".")
	ok := len(s) <= maxAppID && len(segments) >= 2
	for _, seg := range segments {
		ok = ok && seg != "" && allRunes(seg, func(r rune) bool { return isASCIIAlnum(r) || r == '_' || r == '-' })
	}
	if !ok {
		return apperr.Field("app_id", "app_id must be a reverse-DNS identifier such as com.example.portal, at most %d characters", maxAppID)
	}
	return nil
}

func validChannel(s string) error {
	if len(s) > maxChannel || !allRunes(s, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-'
	}) {
		return apperr.Field("channel", "channel must be at most %d characters of a-z, 0-9, '_' and '-'", maxChannel)
	}
	return nil
}

// validShort checks the free-text device fields (model, OS and app versions).
func validShort(field, s string) error {
	if utf8.RuneCountInString(s) > maxDeviceField || !printable(s) {
		return apperr.Field(field, "%s must be at most %d printable characters", field, maxDeviceField)
	}
	return nil
}

// validPushToken accepts FCM and APNs tokens, which are printable ASCII without spaces.
func validPushToken(s string) error {
	if len(s) > maxPushToken || !allRunes(s, func(r rune) bool { return r > ' ' && r < 0x7f }) {
		return apperr.Field("push_token", "push_token must be at most %d printable ASCII characters without spaces", maxPushToken)
	}
	return nil
}

// normalize validates in and fills in defaults.
func (in *DeviceInput) normalize() error {
	if in.Platform != PlatformAndroid && in.Platform != PlatformIOS {
		return apperr.Field("platform", "platform must be %q or %q", PlatformAndroid, PlatformIOS)
	}
	for _, f := range []struct{ name, value string }{
		{"model", in.Model}, {"os_version", in.OSVersion}, {"app_version", in.AppVersion},
	} {
		if err := validShort(f.name, f.value); err != nil {
			return err
		}
	}
	if err := validAppID(in.AppID); err != nil {
		return err
	}
	if in.BuildNumber < 0 || in.BuildNumber > MaxBuildNumber {
		return apperr.Field("build_number", "build_number must be between 0 and %d", MaxBuildNumber)
	}
	if in.Channel == "" {
		in.Channel = DefaultChannel
	}
	if err := validChannel(in.Channel); err != nil {
		return err
	}
	var err error
	if in.Locale, err = normalizeLocale(in.Locale, "locale"); err != nil {
		return err
	}
	if in.Timezone, err = normalizeTimezone(in.Timezone, "timezone"); err != nil {
		return err
	}
	return validPushToken(in.PushToken)
}

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}
