package push

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"reads seconds", "120", 2 * time.Minute},
		{"reads an HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"ignores a date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"ignores zero", "0", 0},
		{"ignores garbage", "soon", 0},
		{"treats a missing header as none", "", 0},
		{"caps a year of seconds at an hour", "31536000", time.Hour},
		{"caps seconds that would overflow", "99999999999999", time.Hour},
		{"caps a far date at an hour", now.AddDate(1, 0, 0).Format(http.TimeFormat), time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tt.header != "" {
				resp.Header.Set("Retry-After", tt.header)
			}
			if got := retryAfter(resp, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestAPNsCollapseID(t *testing.T) {
	t.Run("keeps a key within Apple's limit", func(t *testing.T) {
		if got := apnsCollapseID("release"); got != "release" {
			t.Errorf("apnsCollapseID = %q", got)
		}
	})
	t.Run("hashes a longer key to exactly 64 bytes", func(t *testing.T) {
		long := string(make([]byte, 65))
		if got := apnsCollapseID(long); len(got) != maxAPNsCollapseID {
			t.Errorf("apnsCollapseID returned %d bytes", len(got))
		}
	})
}
