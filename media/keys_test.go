package media_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media"
)

func TestValidateKey(t *testing.T) {
	cases := []struct {
		name string
		key  string
		ok   bool
	}{
		{"accepts a nested key", "builds/android/1.4.0/app-release.apk", true},
		{"accepts a single segment", "cover.png", true},
		{"accepts dots inside a name", "a/..b/c..d/.hidden", true},
		{"accepts Chinese names", "announcements/公告/封面.png", true},
		{"accepts a key of exactly the maximum length", strings.Repeat("k", media.MaxKeyLength), true},
		{"rejects an empty key", "", false},
		{"rejects a key over the maximum length", strings.Repeat("k", media.MaxKeyLength+1), false},
		{"rejects a leading slash", "/builds/app.apk", false},
		{"rejects a trailing slash", "builds/", false},
		{"rejects a parent segment", "builds/../secrets", false},
		{"rejects a bare parent segment", "..", false},
		{"rejects a current-directory segment", "builds/./app.apk", false},
		{"rejects an empty segment", "builds//app.apk", false},
		{"rejects a control character", "builds/app\n.apk", false},
		{"rejects invalid UTF-8", "builds/\xff.apk", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := media.ValidateKey(tc.key)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateKey(%q) = %v", tc.key, err)
				}
				return
			}
			wantCode(t, err, apperr.Invalid)
			if e, _ := apperr.As(err); e.Field != "key" {
				t.Fatalf("Field = %q, want key", e.Field)
			}
		})
	}
}

func TestStoreMethodsValidateKeys(t *testing.T) {
	f := newFixture(t)
	const bad = "uploads/../../etc/passwd"
	calls := map[string]func() error{
		"Put": func() error {
			_, err := f.store.Put(ctx(t), media.Uploads, bad, bytes.NewReader(nil), 0, "")
			return err
		},
		"Stat": func() error { _, err := f.store.Stat(ctx(t), media.Uploads, bad); return err },
		"Open": func() error { _, err := f.store.Open(ctx(t), media.Uploads, bad, 0, -1); return err },
		"ReaderAt": func() error {
			_, _, err := f.store.ReaderAt(ctx(t), media.Uploads, bad)
			return err
		},
		"Delete":     func() error { return f.store.Delete(ctx(t), media.Uploads, bad) },
		"PresignGet": func() error { _, err := f.store.PresignGet(ctx(t), media.Uploads, bad, 0, ""); return err },
		"PresignPut": func() error { _, err := f.store.PresignPut(ctx(t), media.Uploads, bad, 0); return err },
	}
	for name, call := range calls {
		t.Run(name+" rejects a malformed key", func(t *testing.T) {
			wantCode(t, call(), apperr.Invalid)
		})
	}
}
