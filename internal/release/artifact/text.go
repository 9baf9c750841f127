package artifact

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length caps for metadata strings. Names and versions are shown in lists and notifications
// and used in storage keys; nothing legitimate comes near these.
const (
	maxPackageIDLen   = 255
	maxVersionLen     = 64
	maxDisplayNameLen = 128 // runes
)

// validPackageID reports whether s can be an Android package name or an iOS bundle id:
// letters, digits, '.', '_' and '-', not starting with a separator, no empty segments.
func validPackageID(s string) bool {
	if s == "" || len(s) > maxPackageIDLen || s[0] == '.' || s[0] == '-' ||
		strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// cleanVersion trims a version string and reports whether it is usable: present, non-empty,
// short and free of control characters.
func cleanVersion(s string, ok bool) (string, bool) {
	s = strings.TrimSpace(s)
	if !ok || s == "" || len(s) > maxVersionLen || !printable(s) {
		return "", false
	}
	return s, true
}

// cleanDisplayName trims a display name, cutting it to maxDisplayNameLen runes; an empty or
// unprintable name falls back to fallback.
func cleanDisplayName(s, fallback string) string {
	s = strings.TrimSpace(s)
	if s == "" || !printable(s) {
		return fallback
	}
	if utf8.RuneCountInString(s) > maxDisplayNameLen {
		s = string([]rune(s)[:maxDisplayNameLen])
	}
	return s
}

// printable reports whether s is valid UTF-8 without control characters or bidirectional
// controls, which can make a name display as something it is not ("Trojan Source").
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

// pngSignature starts every PNG file, CgBI ones included.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

func isPNG(b []byte) bool { return bytes.HasPrefix(b, pngSignature) }

// isCgBI reports whether b is an Xcode-optimised PNG: its first chunk is "CgBI" rather than
// "IHDR".
func isCgBI(b []byte) bool {
	return isPNG(b) && len(b) >= 16 && string(b[12:16]) == "CgBI"
}
