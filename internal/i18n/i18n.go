// Package i18n holds mportal's one rule for choosing a text by locale, so that a push, the inbox
// item it leaves and a what's-new card all show the same language to the same person.
package i18n

import "slices"

// Locales are the languages mportal speaks, the one list of them: user settings, release
// notes, what's-new cards and the install page accept these. In this order they are the
// fallbacks tried when a text lacks the reader's locale.
var Locales = []string{"zh-CN", "en"}

// Pick returns the non-empty text for locale, else the first fallback that has one, else the
// text of the first locale in sort order (a stable choice), else "".
func Pick(texts map[string]string, locale string) string {
	if s := texts[locale]; s != "" {
		return s
	}
	for _, l := range Locales {
		if s := texts[l]; s != "" {
			return s
		}
	}
	keys := make([]string, 0, len(texts))
	for k, s := range texts {
		if s != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return texts[keys[0]]
}
