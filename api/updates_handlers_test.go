package api

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzRawQueryPeek: without escapes in the query, rawQuery finds what fasthttp's Args finds.
func FuzzRawQueryPeek(f *testing.F) {
	for _, seed := range []string{
		"platform=android&build=90&locale=en",
		"build=1&build=2", // the first wins
		"platform&build=&locale==x&&=y&channel=beta=2",
		"", "&", "=", "platformx=1&xplatform=2&platform=ios",
		"locale=zh-Hant-TW&channel=", "a%20b=1&platform=a+b", // escapes: Args decodes them
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var want fasthttp.Args
		want.Parse(raw)
		got := rawQuery{raw: []byte(raw)}
		if bytes.ContainsAny([]byte(raw), "%+") {
			got = rawQuery{args: &want} // readQuery hands such a query to Args
		}
		keys := []string{"platform", "build", "locale", "channel", ""}
		for k := range want.All() {
			keys = append(keys, string(k))
		}
		for _, k := range keys {
			if g, w := got.peek(k), want.Peek(k); !bytes.Equal(g, w) {
				t.Fatalf("query %q, key %q: %q, Args says %q", raw, k, g, w)
			}
		}
	})
}
