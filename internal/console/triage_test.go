package console

import (
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/i18n"
)

func TestTriageMessagesSpeakEveryLocale(t *testing.T) {
	for _, set := range []map[string]map[string]string{feedbackMessages, approvalsMessages} {
		for key, texts := range set {
			for _, l := range i18n.Locales {
				if texts[l] == "" {
					t.Errorf("message %q has no %s text", key, l)
				}
			}
		}
	}
}

func TestCSPAllowingImages(t *testing.T) {
	t.Run("adds the origins to img-src and changes nothing else", func(t *testing.T) {
		got := CSPAllowingImages(CSP, "http://127.0.0.1:9000")
		if !strings.Contains(got, "img-src 'self' data: http://127.0.0.1:9000;") ||
			strings.Replace(got, " http://127.0.0.1:9000", "", 1) != CSP {
			t.Errorf("got %q", got)
		}
	})
	t.Run("is the CSP itself without origins", func(t *testing.T) {
		if got := CSPAllowingImages(CSP); got != CSP {
			t.Errorf("got %q", got)
		}
	})
}

func TestFeedbackListLinksKeepTheFilter(t *testing.T) {
	l := FeedbackList{Filter: FeedbackFilter{Status: "new", Q: "a&b", From: "2026-03-01"}, Next: "abc"}
	if got := l.NextURL(); got != "/console/feedback?cursor=abc&from=2026-03-01&q=a%26b&status=new" {
		t.Errorf("NextURL %q", got)
	}
	if got := l.ExportURL(); got != "/console/feedback.csv?from=2026-03-01&q=a%26b&status=new" {
		t.Errorf("ExportURL %q", got)
	}
	if got := (FeedbackList{}).FirstURL(); got != "/console/feedback" {
		t.Errorf("FirstURL without a filter %q", got)
	}
}
