package announce

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Limits on what an announcement may carry.
const (
	MaxTitle     = 200    // characters
	MaxBody      = 50_000 // characters of Markdown
	maxListItems = 1000   // entries in one audience list
	maxListEntry = 200    // characters of one audience entry
)

func validTitle(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxTitle || strings.ContainsFunc(s, unicode.IsControl) {
		return "", apperr.Field("title", "title must be 1 to %d characters without control characters", MaxTitle)
	}
	return s, nil
}

func validBody(s string) error {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > MaxBody || !utf8.ValidString(s) {
		return apperr.Field("body", "body must be 1 to %d characters of Markdown", MaxBody)
	}
	return nil
}

// validAudience checks that a reaches someone and that its entries are sane; it returns the
// audience with each list sorted and without duplicates.
func validAudience(a Audience) (Audience, error) {
	lists := []struct {
		name string
		list *[]string
	}{{"audience.departments", &a.Departments}, {"audience.roles", &a.Roles},
		{"audience.channels", &a.Channels}, {"audience.user_ids", &a.UserIDs}}
	for _, l := range lists {
		if len(*l.list) > maxListItems {
			return a, apperr.Field(l.name, "%s has more than %d entries", l.name, maxListItems)
		}
		for _, v := range *l.list {
			if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > maxListEntry || strings.ContainsFunc(v, unicode.IsControl) {
				return a, apperr.Field(l.name, "%s entries must be 1 to %d characters", l.name, maxListEntry)
			}
		}
		*l.list = slices.Compact(slices.Sorted(slices.Values(*l.list)))
		if len(*l.list) == 0 {
			*l.list = nil
		}
	}
	for _, r := range a.Roles {
		if !auth.ValidRole(auth.Role(r)) {
			return a, apperr.Field("audience.roles", "unknown role %q", r)
		}
	}
	if a.push().Empty() {
		return a, apperr.Field("audience", "the audience is empty: set all, departments, roles, channels or user_ids")
	}
	return a, nil
}

func validImportance(s string) error {
	if s != Normal && s != Important {
		return apperr.Field("importance", "importance must be %q or %q", Normal, Important)
	}
	return nil
}

// validSchedule checks that an announcement expires after it is published.
func validSchedule(publishAt time.Time, expiresAt *time.Time) error {
	if expiresAt != nil && !expiresAt.After(publishAt) {
		return apperr.Field("expires_at", "expires_at must be after publish_at")
	}
	return nil
}

// utc normalizes a stored time.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}
