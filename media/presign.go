package media

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
)

// maxDownloadName bounds a download file name; common file systems stop at 255 bytes.
const maxDownloadName = 255

// PresignGet implements Store. The URL is signed by the PublicEndpoint client when one is
// configured; the region is set, so signing happens locally.
func (m *MinIO) PresignGet(ctx context.Context, bucket Bucket, key string, expiry time.Duration, downloadName string) (_ *url.URL, err error) {
	defer apperr.Wrapf(&err, "media: presign get %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return nil, err
	}
	var params url.Values
	if downloadName != "" {
		disposition, err := contentDisposition(downloadName)
		if err != nil {
			return nil, err
		}
		// Signed into the URL, so the server sends this header and a client cannot alter it.
		params = url.Values{"response-content-disposition": {disposition}}
	}
	u, err := m.signer.PresignedGetObject(ctx, m.bucketName(bucket), key, ClampExpiry(expiry), params)
	if err != nil {
		return nil, translate(err)
	}
	return u, nil
}

// PresignPut implements Store.
func (m *MinIO) PresignPut(ctx context.Context, bucket Bucket, key string, expiry time.Duration) (_ *url.URL, err error) {
	defer apperr.Wrapf(&err, "media: presign put %s/%s", bucket, key)
	if err := checkObject(bucket, key); err != nil {
		return nil, err
	}
	u, err := m.signer.PresignedPutObject(ctx, m.bucketName(bucket), key, ClampExpiry(expiry))
	if err != nil {
		return nil, translate(err)
	}
	return u, nil
}

// CheckDownloadName checks that name can be a download's file name (PresignGet's downloadName):
// at most 255 bytes of UTF-8, no / \ or control characters, not blank or only dots. Names a
// client sends for later downloads are checked with it when they are accepted; field names the
// input they came from.
func CheckDownloadName(field, name string) error {
	switch {
	case len(name) > maxDownloadName:
		return apperr.Field(field, "%s is longer than %d bytes", field, maxDownloadName)
	case !utf8.ValidString(name):
		return apperr.Field(field, "%s is not valid UTF-8", field)
	case strings.ContainsFunc(name, unicode.IsControl) || strings.ContainsAny(name, `/\`):
		return apperr.Field(field, "%s must be a file name without / \\ or control characters", field)
	case strings.Trim(name, ". ") == "":
		return apperr.Field(field, "%s is blank", field)
	}
	return nil
}

// contentDisposition builds an RFC 6266 attachment header. ASCII names go in a quoted
// filename, which every client understands (Android's DownloadManager reads only that form);
// other names (Chinese titles) add an RFC 8187 filename* that browsers prefer, after an ASCII
// fallback with "_" for each other character.
func contentDisposition(name string) (string, error) {
	if err := CheckDownloadName("download_name", name); err != nil {
		return "", err
	}
	var fallback strings.Builder
	ascii := true
	for _, c := range name {
		switch {
		case c == '"':
			fallback.WriteByte('_')
		case c < utf8.RuneSelf:
			fallback.WriteRune(c)
		default:
			fallback.WriteByte('_')
			ascii = false
		}
	}
	header := `attachment; filename="` + fallback.String() + `"`
	if !ascii || strings.Contains(name, `"`) {
		header += "; filename*=UTF-8''" + encodeRFC8187(name)
	}
	return header, nil
}

// encodeRFC8187 percent-encodes every byte that is not an RFC 8187 attr-char.
func encodeRFC8187(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
