package api

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzUpdateQuery: a query without escapes read in one pass gives each of the update check's
// parameters as fasthttp's Args does (the first value of its name; absent and empty alike).
func FuzzUpdateQuery(f *testing.F) {
	for _, seed := range []string{
		"platform=android&build=90&locale=en",
		"build=1&build=2", // the first wins
		"platform&build=&locale==x&&=y&channel=beta=2",
		"", "&", "=", "platformx=1&xplatform=2&platform=ios",
		"locale=zh-Hant-TW&channel=", "channel&channel=beta", "&&platform=ios&",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if bytes.ContainsAny([]byte(raw), "%+") {
			return // readUpdateQuery hands a query with escapes to Args itself
		}
		var want fasthttp.Args
		want.Parse(raw)
		got := parseUpdateQuery([]byte(raw))
		for k, g := range map[string][]byte{"platform": got.platform, "channel": got.channel, "build": got.build, "locale": got.locale} {
			if w := want.Peek(k); !bytes.Equal(g, w) {
				t.Fatalf("query %q, key %q: %q, Args says %q", raw, k, g, w)
			}
		}
	})
}
