package approval

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// callbackSchedule is the Standard Webhooks retry schedule: the delay before each attempt,
// counted from the previous one (attempt 1 goes out at once). After the last attempt fails the
// delivery is given up (state failed) until an admin replays it.
var callbackSchedule = []time.Duration{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// MaxCallbackAttempts is how many times one decision is offered to the OA before it is given up.
var MaxCallbackAttempts = len(callbackSchedule)

// maxRetryAfter caps what a Retry-After header can ask for, so that a bogus value cannot park a
// decision for months.
const maxRetryAfter = 24 * time.Hour

// defaultJitter spreads retries of many decisions that failed together (the OA was down) over
// up to a tenth more of the delay, so they do not all come back at the same second.
func defaultJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)/10 + 1))
}

// nextAttemptDelay is how long to wait after failed attempt n (1-based) before attempt n+1, and
// false when n was the last attempt. retryAfter (zero when absent) is honoured when it asks for
// more than the schedule does.
func nextAttemptDelay(n int, retryAfter time.Duration, jitter func(time.Duration) time.Duration) (time.Duration, bool) {
	if n >= len(callbackSchedule) {
		return 0, false
	}
	d := callbackSchedule[n]
	d += jitter(d)
	if retryAfter > d {
		d = min(retryAfter, maxRetryAfter)
	}
	return d, true
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. Anything else, or a
// date in the past, is zero.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
