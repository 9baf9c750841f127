package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func noJitter(time.Duration) time.Duration { return 0 }

func TestRetryScheduleFollowsStandardWebhooks(t *testing.T) {
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	for n, w := range want {
		d, ok := nextAttemptDelay(n+1, 0, noJitter)
		if !ok || d != w {
			t.Errorf("after attempt %d: %v %v, want %v", n+1, d, ok, w)
		}
	}
	if _, ok := nextAttemptDelay(len(want)+1, 0, noJitter); ok {
		t.Errorf("attempt %d is the last one: there is no next", len(want)+1)
	}
	t.Run("jitter adds at most a tenth", func(t *testing.T) {
		for range 200 {
			d, _ := nextAttemptDelay(2, 0, defaultJitter)
			if d < 5*time.Minute || d > 5*time.Minute+30*time.Second {
				t.Fatalf("jittered 5 min: %v", d)
			}
		}
	})
	t.Run("honours a longer Retry-After, never a shorter one", func(t *testing.T) {
		if d, _ := nextAttemptDelay(1, time.Hour, noJitter); d != time.Hour {
			t.Errorf("Retry-After 1h after attempt 1: %v", d)
		}
		if d, _ := nextAttemptDelay(3, time.Second, noJitter); d != 30*time.Minute {
			t.Errorf("Retry-After 1s after attempt 3: %v", d)
		}
		if d, _ := nextAttemptDelay(1, 400*time.Hour, noJitter); d != maxRetryAfter {
			t.Errorf("Retry-After 400h: %v", d)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    string
		want time.Duration
	}{
		{"120", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(c.h, now); got != c.want {
			t.Errorf("Retry-After %q: %v, want %v", c.h, got, c.want)
		}
	}
}

func TestSignWebhookMatchesTheSpec(t *testing.T) {
	// The Standard Webhooks reference: HMAC-SHA256 over "id.timestamp.body", base64, "v1," prefix.
	k1, k2 := []byte("first-secret-key-bytes"), []byte("second-secret-key")
	body := []byte(`{"type":"approval.task.decided"}`)
	at := time.Unix(1700000000, 0)
	h := signWebhook("decision_d1", at, body, []string{
		"whsec_" + base64.StdEncoding.EncodeToString(k1), "whsec_" + base64.StdEncoding.EncodeToString(k2)})
	if h["webhook-id"] != "decision_d1" || h["webhook-timestamp"] != "1700000000" {
		t.Fatalf("headers: %v", h)
	}
	sigs := strings.Split(h["webhook-signature"], " ")
	if len(sigs) != 2 {
		t.Fatalf("one signature per secret: %q", h["webhook-signature"])
	}
	for i, k := range [][]byte{k1, k2} {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte("decision_d1.1700000000." + string(body)))
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); sigs[i] != want {
			t.Errorf("signature %d: %s, want %s", i, sigs[i], want)
		}
	}
}
