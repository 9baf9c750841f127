package whatsnew

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/i18n"
	"github.com/mportal/mportal/media"
)

const (
	maxAppID = 128
	maxTitle = 100
	maxBody  = 2000
	maxOrder = 1000
	// MaxBuildNumber is the largest build number: Android's versionCode is a Java int.
	MaxBuildNumber = math.MaxInt32
)

// validAppID accepts the app ids devices check in with (see directory's device validation):
// reverse-DNS identifiers of at least two dot-separated segments of letters, digits, '_' and
// '-'. Cards are matched to devices by this id, so the two must agree.
func validAppID(field, s string) error {
	segments := strings.Split(s, ".")
	ok := len(s) <= maxAppID && len(segments) >= 2
	for _, seg := range segments {
		ok = ok && seg != "" && !strings.ContainsFunc(seg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		})
	}
	if !ok {
		return apperr.Field(field, "%s must be a reverse-DNS app id such as com.example.portal, at most %d characters", field, maxAppID)
	}
	return nil
}

func validBuild(field string, n int) error {
	if n < 0 || n > MaxBuildNumber {
		return apperr.Field(field, "%s must be between 0 and %d", field, MaxBuildNumber)
	}
	return nil
}

// validText checks a localized text: only known locales, at least one of them non-blank, none
// longer than limit characters. Blank entries are dropped so that fallback skips them.
func validText(field string, m map[string]string, limit int) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for loc, text := range m {
		if !knownLocale(loc) {
			return nil, apperr.Field(field, "%s has the unknown locale %q; use zh-CN or en", field, loc)
		}
		text = strings.TrimSpace(text)
		switch {
		case text == "":
			continue
		case !utf8.ValidString(text) || utf8.RuneCountInString(text) > limit:
			return nil, apperr.Field(field, "%s.%s must be at most %d characters", field, loc, limit)
		case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
			return nil, apperr.Field(field, "%s.%s must not contain control characters", field, loc)
		}
		out[loc] = text
	}
	if len(out) == 0 {
		return nil, apperr.Field(field, "%s needs a text in zh-CN or en", field)
	}
	return out, nil
}

func knownLocale(loc string) bool {
	for _, l := range i18n.Locales {
		if l == loc {
			return true
		}
	}
	return false
}

// validImageKey checks the shape of an optional image key; Create also checks that it exists.
func validImageKey(key string) error {
	if key == "" {
		return nil
	}
	if err := media.ValidateKey(key); err != nil {
		return apperr.Field("image_key", "image_key is not an image key returned by POST /v1/ops/images")
	}
	return nil
}
