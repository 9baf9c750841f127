package updates

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends u encoded as JSON, with the same fields and values encoding/json produces
// (strings are escaped for JSON but, unlike encoding/json, not for HTML: the answer is never
// embedded in a page). The update check is the hottest endpoint, and reflection-based encoding
// of its long signed URLs was a third of its CPU time.
func (u *Update) AppendJSON(b []byte) []byte {
	b = append(b, `{"update_type":`...)
	b = appendString(b, u.UpdateType)
	b = append(b, `,"channel":`...)
	b = appendString(b, u.Channel)
	b = append(b, `,"installed_newer":`...)
	b = strconv.AppendBool(b, u.InstalledNewer)
	b = append(b, `,"unsatisfiable":`...)
	b = strconv.AppendBool(b, u.Unsatisfiable)
	b = append(b, `,"min_build":`...)
	b = strconv.AppendInt(b, u.MinBuild, 10)
	b = appendOptString(append(b, `,"version":`...), u.Version)
	b = appendOptInt(append(b, `,"build":`...), u.Build)
	b = appendOptString(append(b, `,"build_id":`...), u.BuildID)
	b = appendOptString(append(b, `,"notes":`...), u.Notes)
	b = appendOptString(append(b, `,"notes_html":`...), u.NotesHTML)
	b = appendOptInt(append(b, `,"size":`...), u.Size)
	b = appendOptString(append(b, `,"sha256":`...), u.SHA256)
	b = append(b, `,"published_at":`...)
	if u.PublishedAt == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = u.PublishedAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = appendOptString(append(b, `,"download_url":`...), u.DownloadURL)
	b = appendOptString(append(b, `,"install_url":`...), u.InstallURL)
	return append(b, '}')
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendOptInt(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *n, 10)
}

// appendString appends s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced by U+FFFD as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(append(b, s[start:i]...), `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
