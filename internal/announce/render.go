package announce

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// markdown renders CommonMark with the GitHub extensions (tables, strikethrough, autolinks,
// task lists). goldmark leaves raw HTML out by default; the sanitizer below is the real guard.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// safeHTML is the subset of HTML the apps' web views may show: bluemonday's policy for user
// generated content (no scripts, styles, event handlers, iframes or javascript: URLs), with
// links opened outside the app and without a referrer. The one extra scheme is ImageScheme
// followed by a key of an uploaded image's shape (whether it exists is checked before
// rendering); readers get it replaced by a presigned URL.
var safeHTML = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemeWithCustomPolicy(strings.TrimSuffix(ImageScheme, ":"), func(u *url.URL) bool {
		return u.Opaque != "" && imageKey.MatchString(u.Opaque) && u.RawQuery == "" && u.Fragment == ""
	})
	return p
}()

var plainText = bluemonday.StrictPolicy()

// excerptLen is the length of an excerpt in characters: about two lines of a notification.
const excerptLen = 140

// render turns Markdown into sanitized HTML and a plain-text excerpt, once when an
// announcement is written, so that readers never pay for it and a sanitizer fix applies to new
// writes without touching the Markdown. It also returns the keys the body references with
// ImageScheme, which the caller checks.
func render(source string) (bodyHTML, excerpt string, imageKeys []string, err error) {
	src := []byte(source)
	doc := markdown.Parser().Parse(text.NewReader(src))
	var buf bytes.Buffer
	if err := markdown.Renderer().Render(&buf, src, doc); err != nil {
		return "", "", nil, fmt.Errorf("render markdown: %w", err)
	}
	bodyHTML = safeHTML.Sanitize(buf.String())
	return bodyHTML, excerptOf(bodyHTML), imageRefs(doc), nil
}

// excerptOf returns the first excerptLen characters of the text of bodyHTML, with whitespace
// collapsed and an ellipsis when cut.
func excerptOf(bodyHTML string) string {
	// Block ends become spaces, so that "<p>a</p><p>b</p>" reads "a b".
	spaced := strings.NewReplacer("</p>", " </p>", "<br>", " ", "<br/>", " ", "</li>", " </li>",
		"</h1>", " </h1>", "</h2>", " </h2>", "</h3>", " </h3>", "</td>", " </td>").Replace(bodyHTML)
	text := strings.Join(strings.Fields(html.UnescapeString(plainText.Sanitize(spaced))), " ")
	if utf8.RuneCountInString(text) <= excerptLen {
		return text
	}
	runes := []rune(text)
	return strings.TrimSpace(string(runes[:excerptLen-1])) + "…"
}
