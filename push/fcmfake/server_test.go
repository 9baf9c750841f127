package fcmfake_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/push/fcmfake"
)

// post sends one messages:send request for token and returns the status.
func post(t *testing.T, c *http.Client, url, token string) int {
	t.Helper()
	body := fmt.Sprintf(`{"message":{"token":%q,"notification":{"title":"T","body":"B"},"data":{"k":"v"}}}`, token)
	resp, err := c.Post(url+"/v1/projects/p/messages:send", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestServerBehaviors(t *testing.T) {
	fake := fcmfake.New()
	defer fake.Close()
	c := fake.HTTPClient()
	fake.SetBehavior("bad-*", fcmfake.Behavior{Fail: fcmfake.Unregistered})
	fake.SetBehavior("bad-but-*", fcmfake.Behavior{Fail: fcmfake.Internal})
	fake.SetBehavior("bad-but-ok", fcmfake.Behavior{})
	fake.SetBehavior("twice", fcmfake.Behavior{Fail: fcmfake.Unavailable, Times: 2})
	tests := []struct {
		name, token string
		want        []int
	}{
		{"accepts an ordinary token", "good", []int{200}},
		{"applies a prefix", "bad-1", []int{404, 404}},
		{"prefers the longer prefix", "bad-but-1", []int{500}},
		{"prefers an exact token over prefixes", "bad-but-ok", []int{200}},
		{"fails only the first Times requests", "twice", []int{503, 503, 200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, want := range tt.want {
				if got := post(t, c, fake.URL, tt.token); got != want {
					t.Errorf("request %d: status %d, want %d", i+1, got, want)
				}
			}
		})
	}
	t.Run("counts accepted messages and attempts per token", func(t *testing.T) {
		if fake.Count("twice") != 2 || fake.Attempts("twice") != 4 || fake.Count("bad-1") != 0 {
			t.Errorf("counts: twice %d/%d, bad-1 %d", fake.Count("twice"), fake.Attempts("twice"), fake.Count("bad-1"))
		}
	})
	t.Run("forgets messages but keeps behaviors on Reset", func(t *testing.T) {
		fake.Reset()
		if fake.Total() != 0 || len(fake.Messages()) != 0 || fake.Attempts("twice") != 0 {
			t.Fatalf("after Reset: total %d, %d messages", fake.Total(), len(fake.Messages()))
		}
		if got := post(t, c, fake.URL, "bad-2"); got != 404 {
			t.Errorf("status %d after Reset, want 404", got)
		}
	})
	t.Run("counts without keeping messages when asked", func(t *testing.T) {
		fake.Reset()
		fake.SetCountOnly(true)
		defer fake.SetCountOnly(false)
		post(t, c, fake.URL, "quiet")
		if fake.Count("quiet") != 1 || fake.Total() != 1 || len(fake.Messages()) != 0 {
			t.Errorf("count %d, total %d, %d messages kept", fake.Count("quiet"), fake.Total(), len(fake.Messages()))
		}
	})
	t.Run("answers unknown paths with 404", func(t *testing.T) {
		resp, err := c.Get(fake.URL + "/v1/projects/p/messages")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}

func TestServerSendsRetryAfter(t *testing.T) {
	fake := fcmfake.New()
	defer fake.Close()
	fake.SetBehavior("q", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 30 * time.Second})
	resp, err := fake.HTTPClient().Post(fake.URL+"/v1/projects/p/messages:send", "application/json",
		strings.NewReader(`{"message":{"token":"q"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(body), `"errorCode":"QUOTA_EXCEEDED"`) {
		t.Errorf("body lacks the FCM error code: %s", body)
	}
}

func TestServerRewritesAnyHostToItself(t *testing.T) {
	fake := fcmfake.New()
	defer fake.Close()
	if got := post(t, fake.HTTPClient(), "https://fcm.googleapis.com", "a"); got != 200 {
		t.Fatalf("status %d, want 200", got)
	}
	if fake.Count("a") != 1 {
		t.Errorf("fake did not receive the rewritten request")
	}
}

func TestServerRecordsConcurrentSendsExactly(t *testing.T) {
	fake := fcmfake.New()
	defer fake.Close()
	c := fake.HTTPClient()
	const workers, each = 16, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				post(t, c, fake.URL, fmt.Sprintf("w%d-%d", w, i))
			}
		})
	}
	wg.Wait()
	msgs := fake.Messages()
	if fake.Total() != workers*each || len(msgs) != workers*each {
		t.Fatalf("total %d, %d messages; want %d", fake.Total(), len(msgs), workers*each)
	}
	seen := map[string]bool{}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has Seq %d; want consecutive order", i, m.Seq)
		}
		if seen[m.Token] || m.Title != "T" || m.Data["k"] != "v" {
			t.Fatalf("bad record %+v", m)
		}
		seen[m.Token] = true
	}
}
