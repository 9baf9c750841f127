package testenv

import (
	"sync"
	"time"
)

// Clock is a settable time source for tests: pass its Now where a service takes its clock,
// `Now clock.Func`. It is safe for concurrent use.
//
// A test gives every service of its fixture the same Clock. Mixing a Clock standing at a fixed
// date with the wall clock in one code path is a time bomb: the distance between the two grows
// every day until some age limit (a stale device, an expired token) trips. A test that needs time
// to pass for real (millisecond back-offs) calls Run instead of handing a service time.Now.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	running bool
	since   time.Time // wall-clock reading (monotonic) when t was last set while running
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

func (c *Clock) now() time.Time {
	if c.running {
		return c.t.Add(time.Since(c.since))
	}
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.now().Add(d)
	c.since = time.Now()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	c.since = time.Now()
}

// Run makes the clock tick at the wall clock's rate from where it stands, so that real waits
// (retry back-offs) elapse for the services that read it, while every date stays on the test's
// own calendar. Set and Advance still move it.
func (c *Clock) Run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t, c.since, c.running = c.now(), time.Now(), true
}
