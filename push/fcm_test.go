package push_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/mportal/mportal/push"
	"github.com/mportal/mportal/push/fcmfake"
)

// newSender starts a fake FCM server and a real FCMSender pointed at it.
func newSender(t testing.TB) (*push.FCMSender, *fcmfake.Server) {
	t.Helper()
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	s, err := push.NewFCMSender(context.Background(), "", fake.SenderOptions()...)
	if err != nil {
		t.Fatalf("NewFCMSender: %v", err)
	}
	return s, fake
}

func message(token string) push.Message {
	return push.Message{
		ID: "n1/" + token, Token: token, Platform: "android", Category: push.CategoryAnnouncement,
		Title: "Title", Body: "Body", DeepLink: "mportal://announcements/1",
	}
}

func send(t *testing.T, s *push.FCMSender, msgs ...push.Message) []push.Result {
	t.Helper()
	res, err := s.Send(context.Background(), msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(res) != len(msgs) {
		t.Fatalf("Send returned %d results for %d messages", len(res), len(msgs))
	}
	return res
}

func TestFCMSenderErrorPaths(t *testing.T) {
	s, fake := newSender(t)
	tests := []struct {
		name     string
		behavior fcmfake.Behavior
		want     push.Result
	}{
		{"delivers an accepted message", fcmfake.Behavior{}, push.Result{Outcome: push.Delivered}},
		{"removes an unregistered token", fcmfake.Behavior{Fail: fcmfake.Unregistered},
			push.Result{Outcome: push.TokenInvalid, Reason: "UNREGISTERED"}},
		{"removes a malformed token", fcmfake.Behavior{Fail: fcmfake.InvalidToken},
			push.Result{Outcome: push.TokenInvalid, Reason: "INVALID_ARGUMENT"}},
		{"fails a message FCM calls invalid", fcmfake.Behavior{Fail: fcmfake.InvalidArgument},
			push.Result{Outcome: push.Failed, Reason: "INVALID_ARGUMENT"}},
		{"retries after the quota's Retry-After", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: 7 * time.Second},
			push.Result{Outcome: push.Retry, Reason: "QUOTA_EXCEEDED", RetryAfter: 7 * time.Second}},
		{"retries a quota error without Retry-After on its own back-off", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded},
			push.Result{Outcome: push.Retry, Reason: "QUOTA_EXCEEDED"}},
		{"retries an unavailable server after its Retry-After", fcmfake.Behavior{Fail: fcmfake.Unavailable, RetryAfter: 3 * time.Second},
			push.Result{Outcome: push.Retry, Reason: "UNAVAILABLE", RetryAfter: 3 * time.Second}},
		{"retries an internal server error", fcmfake.Behavior{Fail: fcmfake.Internal},
			push.Result{Outcome: push.Retry, Reason: "INTERNAL"}},
		{"fails but keeps the token on a sender id mismatch", fcmfake.Behavior{Fail: fcmfake.SenderIDMismatch},
			push.Result{Outcome: push.Failed, Reason: "SENDER_ID_MISMATCH"}},
		{"fails on an APNs credential error", fcmfake.Behavior{Fail: fcmfake.ThirdPartyAuth},
			push.Result{Outcome: push.Failed, Reason: "THIRD_PARTY_AUTH_ERROR"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := "token-" + strconv.Itoa(i)
			fake.SetBehavior(token, tt.behavior)
			got := send(t, s, message(token))[0]
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			// One request each: in particular the SDK must not retry 503
			// itself, which would hold the batch for seconds.
			if n := fake.Attempts(token); n != 1 {
				t.Errorf("fake saw %d requests, want 1", n)
			}
		})
	}
}

func TestFCMSenderBatch(t *testing.T) {
	t.Run("returns results in message order", func(t *testing.T) {
		s, fake := newSender(t)
		fake.SetBehavior("dead-*", fcmfake.Behavior{Fail: fcmfake.Unregistered})
		var msgs []push.Message
		var want []push.Result
		for i := range 120 {
			if i%3 == 0 {
				msgs = append(msgs, message(fmt.Sprintf("dead-%d", i)))
				want = append(want, push.Result{Outcome: push.TokenInvalid, Reason: "UNREGISTERED"})
			} else {
				msgs = append(msgs, message(fmt.Sprintf("live-%d", i)))
				want = append(want, push.Result{Outcome: push.Delivered})
			}
		}
		if diff := cmp.Diff(want, send(t, s, msgs...)); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if fake.Total() != 80 {
			t.Errorf("fake accepted %d messages, want 80", fake.Total())
		}
	})
	t.Run("fails a message without a token and still sends the others", func(t *testing.T) {
		s, fake := newSender(t)
		got := send(t, s, message(""), message("a"))
		want := []push.Result{{Outcome: push.Failed, Reason: "NO_TOKEN"}, {Outcome: push.Delivered}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		if fake.Count("a") != 1 {
			t.Errorf("token a got %d messages, want 1", fake.Count("a"))
		}
	})
	t.Run("delivers once a transient failure is over", func(t *testing.T) {
		s, fake := newSender(t)
		fake.SetBehavior("flaky", fcmfake.Behavior{Fail: fcmfake.QuotaExceeded, RetryAfter: time.Second, Times: 2})
		for i, want := range []push.Outcome{push.Retry, push.Retry, push.Delivered} {
			if got := send(t, s, message("flaky"))[0].Outcome; got != want {
				t.Errorf("attempt %d: outcome %v, want %v", i+1, got, want)
			}
		}
		if fake.Count("flaky") != 1 || fake.Attempts("flaky") != 3 {
			t.Errorf("fake accepted %d of %d attempts, want 1 of 3", fake.Count("flaky"), fake.Attempts("flaky"))
		}
	})
	t.Run("rejects more than MaxBatch messages without sending", func(t *testing.T) {
		s, fake := newSender(t)
		msgs := make([]push.Message, push.MaxBatch+1)
		for i := range msgs {
			msgs[i] = message(strconv.Itoa(i))
		}
		if res, err := s.Send(context.Background(), msgs); err == nil || res != nil {
			t.Errorf("Send = %v, %v; want nil results and an error", res, err)
		}
		if fake.Total() != 0 {
			t.Errorf("fake accepted %d messages, want 0", fake.Total())
		}
	})
	t.Run("sends nothing when the context is already done", func(t *testing.T) {
		s, fake := newSender(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if res, err := s.Send(ctx, []push.Message{message("a")}); err == nil || res != nil {
			t.Errorf("Send = %v, %v; want nil results and an error", res, err)
		}
		if fake.Attempts("a") != 0 {
			t.Errorf("fake saw %d requests, want 0", fake.Attempts("a"))
		}
	})
}

func TestFCMSenderSlowResponse(t *testing.T) {
	fake := fcmfake.New()
	t.Cleanup(fake.Close)
	// The deadline passes once the client has read the answer to "fast" and the fake holds
	// "slow": a fixed one (it was a second) also cut "fast" off when a loaded machine took that
	// long to send it.
	fastRead := make(chan struct{})
	var once sync.Once
	base := fake.HTTPClient().Transport
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := base.RoundTrip(r)
		if err == nil && bytes.Contains(body, []byte(`"token":"fast"`)) {
			resp.Body = &onEOF{ReadCloser: resp.Body, f: func() { once.Do(func() { close(fastRead) }) }}
		}
		return resp, err
	})}
	s, err := push.NewFCMSender(context.Background(), "", append(fake.SenderOptions(), option.WithHTTPClient(client))...)
	if err != nil {
		t.Fatal(err)
	}
	// Far longer than the deadline: the fake only answers when the client gives up.
	fake.SetBehavior("slow", fcmfake.Behavior{Delay: time.Hour})
	ctx := &deadlineWhen{Context: t.Context(), done: make(chan struct{})}
	go func() {
		defer close(ctx.done)
		deadline := time.After(time.Minute)
		select {
		case <-fastRead:
		case <-deadline:
			t.Errorf("the client never read the answer to fast")
			return
		}
		for fake.Attempts("slow") < 1 {
			select {
			case <-deadline:
				t.Errorf("the fake never received slow")
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	got, err := s.Send(ctx, []push.Message{message("fast"), message("slow")})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []push.Result{{Outcome: push.Delivered}, {Outcome: push.Retry, Reason: "DEADLINE_EXCEEDED"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if fake.Count("slow") != 0 {
		t.Errorf("fake recorded the abandoned message")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// onEOF calls f when its reader is read to the end or closed.
type onEOF struct {
	io.ReadCloser
	f func()
}

func (r *onEOF) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err == io.EOF {
		r.f()
	}
	return n, err
}

func (r *onEOF) Close() error {
	r.f()
	return r.ReadCloser.Close()
}

// deadlineWhen is a context whose deadline passes when done is closed.
type deadlineWhen struct {
	context.Context
	done chan struct{}
}

func (c *deadlineWhen) Done() <-chan struct{} { return c.done }

func (c *deadlineWhen) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestFCMSenderConcurrentSends(t *testing.T) {
	s, fake := newSender(t)
	const senders, perBatch = 8, 100
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			msgs := make([]push.Message, perBatch)
			for i := range msgs {
				msgs[i] = message(fmt.Sprintf("g%d-%d", g, i))
			}
			res, err := s.Send(context.Background(), msgs)
			if err != nil {
				t.Errorf("Send: %v", err)
				return
			}
			for i, r := range res {
				if r.Outcome != push.Delivered {
					t.Errorf("message %s: %+v", msgs[i].Token, r)
				}
			}
		})
	}
	wg.Wait()
	if fake.Total() != senders*perBatch {
		t.Errorf("fake accepted %d messages, want %d", fake.Total(), senders*perBatch)
	}
	for g := range senders {
		for i := range perBatch {
			if n := fake.Count(fmt.Sprintf("g%d-%d", g, i)); n != 1 {
				t.Fatalf("token g%d-%d got %d messages, want 1", g, i, n)
			}
		}
	}
}

func TestFCMSenderAuthenticates(t *testing.T) {
	s, fake := newSender(t)
	send(t, s, message("a"))
	if got := fake.Messages()[0].Authorization; !strings.HasSuffix(got, " "+fcmfake.AccessToken) {
		t.Errorf("Authorization = %q, want the bearer token", got)
	}
}
