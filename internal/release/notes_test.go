package release

import (
	"strings"
	"testing"
)

func TestRenderNotes(t *testing.T) {
	for _, tc := range []struct {
		name, markdown string
		want           []string
		notWant        []string
	}{
		{name: "renders Markdown", markdown: "- faster **start**", want: []string{"<li>faster <strong>start</strong></li>"}},
		{
			name:     "keeps notes that begin with an HTML block",
			markdown: "<p>Faster start</p>\n<ul><li>New inbox</li></ul>\n\nAnd **more**.",
			want:     []string{"<p>Faster start</p>", "<li>New inbox</li>", "<strong>more</strong>"},
		},
		{
			name:     "strips scripts, handlers and javascript links from raw HTML",
			markdown: "<div onclick=\"x()\">Hi<script>alert(1)</script></div>\n\n<a href=\"javascript:alert(2)\">y</a> <img src=x onerror=alert(3)>",
			want:     []string{"Hi"},
			notWant:  []string{"<script", "alert(1)", "onclick", "javascript:", "onerror"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, html, err := renderNotes(map[string]string{"en": tc.markdown})
			if err != nil {
				t.Fatal(err)
			}
			got := html["en"]
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("html %q lacks %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("html %q contains %q", got, w)
				}
			}
		})
	}
}
