package upload

import (
	"encoding/base64"
	"slices"
	"strings"
)

// EncodeMetadata renders meta as a tus Upload-Metadata header value ("key base64(value),...",
// keys sorted), for Go clients and tests; the apps' tus clients do this themselves.
func EncodeMetadata(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + base64.StdEncoding.EncodeToString([]byte(meta[k]))
	}
	return strings.Join(parts, ",")
}
