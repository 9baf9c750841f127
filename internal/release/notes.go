package release

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/i18n"
)

// Release notes are rendered like announcements: CommonMark with the GitHub extensions, then
// sanitized with bluemonday's policy for user content, once when written so that update checks
// never pay for it. Raw HTML is passed on to the sanitizer rather than dropped by goldmark:
// dropping it turned notes that begin with an HTML block (which runs to the first blank line)
// into nothing, and bluemonday is what keeps scripts out.
var (
	notesMarkdown = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	notesPolicy   = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		p.RequireNoReferrerOnLinks(true)
		p.AddTargetBlankToFullyQualifiedLinks(true)
		return p
	}()
)

// maxNotesLen bounds one locale's notes: a screenful of changes, not a manual.
const maxNotesLen = 10_000

// renderNotes validates Markdown notes by locale and returns them trimmed with their sanitized
// HTML. Empty notes are dropped. It returns invalid (field notes) for an unknown locale or notes
// over maxNotesLen.
func renderNotes(notes map[string]string) (map[string]string, map[string]string, error) {
	if len(notes) == 0 {
		return nil, nil, nil
	}
	md, html := map[string]string{}, map[string]string{}
	for loc, text := range notes {
		if !slices.Contains(i18n.Locales, loc) {
			return nil, nil, apperr.Field("notes", "notes locale must be one of %v, not %q", i18n.Locales, loc)
		}
		text = strings.TrimSpace(text)
		if len(text) > maxNotesLen {
			return nil, nil, apperr.Field("notes", "notes (%s) must be at most %d bytes", loc, maxNotesLen)
		}
		if text == "" {
			continue
		}
		var buf bytes.Buffer
		if err := notesMarkdown.Convert([]byte(text), &buf); err != nil {
			return nil, nil, fmt.Errorf("render notes: %w", err)
		}
		md[loc], html[loc] = text, notesPolicy.Sanitize(buf.String())
	}
	if len(md) == 0 {
		return nil, nil, nil
	}
	return md, html, nil
}
