package push

import (
	"net/http"
	"strconv"
	"time"
)

// originalStatusHeader carries the real status of a response whose status
// noSDKRetry rewrote, so Results still report what FCM said.
const originalStatusHeader = "X-Mportal-Fcm-Status"

// defaultRequestTimeout bounds one HTTP exchange with FCM when the HTTP
// client has no timeout of its own; FCM answers in well under a second, and
// a hung connection must not hold a batch lease.
const defaultRequestTimeout = 15 * time.Second

// noSDKRetry keeps the Firebase SDK from retrying 503 responses itself.
//
// The SDK retries every 503 up to four times inside the send call, sleeping
// 0, 1, 2 and 4 seconds or the Retry-After value when longer (up to two
// minutes per attempt), and offers no option to turn that off. Inside
// SendEach that holds the whole batch (and its lease) for minutes and stalls
// a graceful shutdown, while the outbox already retries durably with jittered
// back-off that honours Retry-After. So a 503 is handed to the SDK as a 500,
// which it does not retry; the body, and with it the FCM error code, is
// untouched, and originalStatusHeader keeps the real status.
//
// The SDK still retries network errors (four times, 7 s of sleep in all);
// the per-request timeout and the caller's context bound that.
type noSDKRetry struct {
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t noSDKRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
		resp.Header.Set(originalStatusHeader, strconv.Itoa(resp.StatusCode))
		resp.StatusCode = http.StatusInternalServerError
		resp.Status = "500 Internal Server Error (503 from FCM)"
	}
	return resp, err
}

// withoutSDKRetry returns a copy of hc whose transport is wrapped in
// noSDKRetry and whose requests time out.
func withoutSDKRetry(hc *http.Client) *http.Client {
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out := *hc
	out.Transport = noSDKRetry{next: next}
	if out.Timeout == 0 {
		out.Timeout = defaultRequestTimeout
	}
	return &out
}

// responseStatus is the status FCM sent, undoing noSDKRetry's rewrite.
func responseStatus(resp *http.Response) int {
	if s, err := strconv.Atoi(resp.Header.Get(originalStatusHeader)); err == nil {
		return s
	}
	return resp.StatusCode
}

// maxRetryAfter bounds the wait a provider's Retry-After may ask for: a notification is not
// parked for a year (nor a number of seconds overflowed) on one odd header.
const maxRetryAfter = time.Hour

// retryAfter parses a Retry-After header given in seconds or as an HTTP date, at most
// maxRetryAfter; zero means absent, malformed or already past.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return min(at.Sub(now), maxRetryAfter)
	}
	return 0
}
