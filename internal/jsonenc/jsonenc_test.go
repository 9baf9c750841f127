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
