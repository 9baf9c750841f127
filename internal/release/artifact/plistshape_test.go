package artifact

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"howett.net/plist"
)

// The property lists that would take the process down rather than fail (the decoder recurses
// without a bound; a forged binary trailer reached make with 2^40 elements) are refused before
// the decoder sees them; real Info.plists, XML and binary, still decode.
func TestPlistsThatWouldKillTheProcessAreRefused(t *testing.T) {
	var info struct {
		ID string `plist:"CFBundleIdentifier"`
	}
	// One object, an array of 2^40 elements whose references take 0 bytes each.
	forged := append([]byte("bplist00"), 0xAF, 0x13, 0, 0, 1, 0, 0, 0, 0, 0) // array, count 2^40
	forged = append(forged, 8)                                               // the offset table
	trailer := make([]byte, 32)
	trailer[6], trailer[7] = 1, 0 // 1-byte offsets, 0-byte references
	binary.BigEndian.PutUint64(trailer[8:], 1)
	binary.BigEndian.PutUint64(trailer[24:], uint64(len(forged)-1))
	forged = append(forged, trailer...)
	for name, data := range map[string][]byte{
		"the text format, 4 MiB deep": []byte(strings.Repeat("(", 4<<20)),
		"XML nested 100 deep": []byte(`<?xml version="1.0"?><plist version="1.0">` + strings.Repeat("<array>", 100) +
			strings.Repeat("</array>", 100) + `</plist>`),
		"a binary array of 2^40 0-byte references": forged,
	} {
		if err := decodePlist(data, &info); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// The decoder recurses on every element by its local name: counting only "<array>" and
	// "<dict>" let these through (4 MiB of "<plist>" took half a gigabyte of stack).
	for name, data := range map[string]string{
		"<plist> nested 100 deep":         strings.Repeat("<plist>", 100),
		"<array > with a space":           `<plist>` + strings.Repeat("<array >", 100),
		`<x:dict a=""> with a prefix`:     `<plist>` + strings.Repeat(`<x:dict a="">`, 100),
		"elements closed, 100 deep again": strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100),
	} {
		if err := checkPlistShape([]byte(data)); err == nil || !strings.Contains(err.Error(), "nested deeper") {
			t.Errorf("%s: %v, want refused as too deep", name, err)
		}
	}
	want := map[string]any{"CFBundleIdentifier": "com.example.portal", "Nested": []any{map[string]any{"a": "b"}}}
	for _, format := range []int{plist.XMLFormat, plist.BinaryFormat} {
		data, err := plist.Marshal(want, format)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodePlist(bytes.TrimSpace(data), &info); err != nil || info.ID != "com.example.portal" {
			t.Errorf("format %d: %q, %v", format, info.ID, err)
		}
	}
}
