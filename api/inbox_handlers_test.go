package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

// fakeInbox records the item ids MarkRead is asked for.
type fakeInbox struct {
	Inbox
	marked []string
}

func (f *fakeInbox) MarkRead(_ context.Context, _ *auth.Principal, itemID string) error {
	f.marked = append(f.marked, itemID)
	return nil
}

// fakePrefs answers Get with stored preferences.
type fakePrefs struct {
	NotificationPrefs
	stored push.Prefs
}

func (f *fakePrefs) Get(context.Context, *auth.Principal) (push.Prefs, error) { return f.stored, nil }

func TestMarkReadAddressesTheCallersItem(t *testing.T) {
	s, _ := newTestServer(t, nil)
	fake := &fakeInbox{}
	s.deps.Inbox = fake
	post := func(path string) *http.Response {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RequestURI = path // sent as is, even when it is not a valid escaping
		r.Header.Set("Authorization", "Bearer good")
		resp, _ := do(t, s, r)
		return resp
	}
	t.Run("prefixes the caller's id to a percent-encoded notification id", func(t *testing.T) {
		if resp := post("/v1/inbox/release%3A2026%2F03/read"); resp.StatusCode != 204 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if got := strings.Join(fake.marked, ","); got != "u1/release:2026/03" {
			t.Fatalf("marked %q", got)
		}
	})
	t.Run("answers not_found for an id that is not percent-encoded properly", func(t *testing.T) {
		if resp := post("/v1/inbox/bad%zz/read"); resp.StatusCode != 404 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestNotificationPrefsUseNullForUnset(t *testing.T) {
	s, _ := newTestServer(t, nil)
	s.deps.Prefs = &fakePrefs{stored: push.Prefs{}}
	r := httptest.NewRequest(http.MethodGet, "/v1/me/notification-preferences", nil)
	r.Header.Set("Authorization", "Bearer good")
	resp, doc := do(t, s, r)
	off, isList := doc["off"].([]any)
	if resp.StatusCode != 200 || !isList || len(off) != 0 || doc["quiet_start"] != nil || doc["timezone"] != nil {
		t.Fatalf("got %d %v", resp.StatusCode, doc)
	}
	if _, present := doc["quiet_end"]; !present {
		t.Fatalf("quiet_end missing instead of null: %v", doc)
	}
}
