package updates

import (
	"strconv"
	"time"

	"github.com/mportal/mportal/internal/jsonenc"
)

// AppendJSON appends u encoded as JSON, with the same fields and values encoding/json produces
// (strings are escaped for JSON but, unlike encoding/json, not for HTML: the answer is never
// embedded in a page). The update check is the hottest endpoint, and reflection-based encoding
// of its long signed URLs was a third of its CPU time.
func (u *Update) AppendJSON(b []byte) []byte {
	b = append(b, `{"update_type":`...)
	b = jsonenc.AppendString(b, u.UpdateType)
	b = append(b, `,"channel":`...)
	b = jsonenc.AppendString(b, u.Channel)
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
	return jsonenc.AppendString(b, *s)
}

func appendOptInt(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *n, 10)
}
