package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppendStringDecodesToTheSameText: whatever the input, the output is one JSON string that
// decodes to the input with each invalid byte replaced by U+FFFD, as encoding/json does.
func TestAppendStringDecodesToTheSameText(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "ctl \x00\x01\x1f\n\r\t", "bad \xff\xfe utf-8", "中文 ✓", "<html>&"} {
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		var want strings.Builder
		for _, r := range s {
			want.WriteRune(r)
		}
		if got != want.String() {
			t.Errorf("%q -> %s decodes to %q, want %q", s, out, got, want.String())
		}
	}
}

// FuzzPlainPrefix: the eight-at-a-time scan stops where a byte at a time does.
func FuzzPlainPrefix(f *testing.F) {
	for _, seed := range []string{"", "plain", "0123456789abcdef0123456789abcdef", "/v1/apps/:app_id/update",
		"abcdefg\"", "abcdefgh\\", "abcdefgh\x1f", "abcdefgh\x7f ok", "abcdefghé", " !#$%&'()*+,-./0123"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := 0
		for want < len(s) && s[want] >= 0x20 && s[want] != '"' && s[want] != '\\' && s[want] < 0x80 {
			want++
		}
		if got := plainPrefix(s); got != want {
			t.Fatalf("plainPrefix(%q) = %d, want %d", s, got, want)
		}
	})
}

// BenchmarkAppendString encodes an access log line's strings: a request id, a route, a path and
// a user id.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{"e18830890ce3b71f0000000200000001", "GET", "/v1/apps/:app_id/update", "/v1/apps/bench/update", "6b1609249879e9a9a4d02089"}
	buf := make([]byte, 0, 256)
	for i := 0; i < b.N; i++ {
		buf = buf[:0]
		for _, s := range strs {
			buf = AppendString(buf, s)
		}
	}
}
