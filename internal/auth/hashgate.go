package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mportal/mportal/internal/apperr"
)

// HashMemoryBudget caps the memory that concurrent argon2 computations may use when
// Sessions.HashConcurrency is zero: each one allocates its full memory cost (19 MiB by default)
// at once, so 60 concurrent failed logins used to take more than a gigabyte.
const HashMemoryBudget = 256 << 20

// DefaultHashQueue is how many requests may wait for an argon2 slot when Sessions.HashQueue is
// zero.
const DefaultHashQueue = 64

// hashBusyRetry is the Retry-After of a request turned away because the queue is full: a slot
// frees every few tens of milliseconds, so a second is plenty.
const hashBusyRetry = time.Second

// hashGate bounds how many argon2 computations run at once, and how many requests wait for one.
// More computations than CPUs would only add memory: argon2 with one lane is CPU-bound. A request
// that finds the queue full is turned away at once, so that a burst of logins costs neither
// unbounded memory nor unbounded goroutines waiting.
type hashGate struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
}

func newHashGate(slots, queue int) *hashGate {
	return &hashGate{slots: make(chan struct{}, max(slots, 1)), queue: int64(max(queue, 0))}
}

// hashSlots is the default concurrency: GOMAXPROCS, but no more than fit in HashMemoryBudget.
func hashSlots(p Argon2Params) int {
	perHash := max(int(p.MemoryKiB)<<10, 1)
	return max(1, min(runtime.GOMAXPROCS(0), HashMemoryBudget/perHash))
}

// enter waits for a slot and returns the function that gives it back. It returns unavailable,
// with RetryAfter, when the queue is full or ctx ends while waiting.
func (g *hashGate) enter(ctx context.Context) (release func(), err error) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return nil, busy(nil)
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, busy(ctx.Err())
	}
}

func busy(cause error) error {
	return &apperr.Error{Code: apperr.Unavailable, Message: "too many logins at once, try again shortly",
		RetryAfter: hashBusyRetry, Err: cause}
}

// gate returns the Sessions' gate, built on first use from HashConcurrency and HashQueue.
func (s *Sessions) gate() *hashGate {
	s.gateOnce.Do(func() {
		slots := s.HashConcurrency
		if slots <= 0 {
			slots = hashSlots(s.argon())
		}
		queue := s.HashQueue
		if queue == 0 {
			queue = DefaultHashQueue
		}
		s.hashGate = newHashGate(slots, queue)
	})
	return s.hashGate
}
