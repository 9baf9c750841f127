package analytics

import (
	"math"
	"sync"
	"time"
)

// Limit is a per-device token bucket on app events: Burst events at once, refilled at Events
// per second.
type Limit struct {
	Events float64 // events per second, sustained
	Burst  float64 // events at once
}

// DefaultLimit lets a device send a full offline queue of a few batches at once, then about a
// batch every 10 seconds.
var DefaultLimit = Limit{Events: 50, Burst: 5 * MaxBatch}

type bucket struct {
	tokens float64
	at     time.Time
}

// limiter holds one bucket per device key in memory: each instance limits what reaches it,
// which bounds a device to instances × Limit.
type limiter struct {
	lim     Limit
	mu      sync.Mutex
	buckets map[string]*bucket
}

func newLimiter(l Limit) *limiter { return &limiter{lim: l, buckets: map[string]*bucket{}} }

// take takes n tokens for key; when there are too few it returns how long until there are.
func (l *limiter) take(key string, n int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 100_000 { // forget idle devices; a full bucket is the same as none
		for k, b := range l.buckets {
			if now.Sub(b.at).Seconds()*l.lim.Events >= l.lim.Burst {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.lim.Burst, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(l.lim.Burst, b.tokens+el*l.lim.Events)
	}
	b.at = now
	if b.tokens >= float64(n) {
		b.tokens -= float64(n)
		return true, 0
	}
	wait := time.Duration((float64(n) - b.tokens) / l.lim.Events * float64(time.Second))
	return false, max(wait, time.Second)
}
