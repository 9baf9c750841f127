package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/testenv"
)

// fakeClock is a clock tests move by hand; it is safe for concurrent use.
// fakeClock is the shared settable test clock.
type fakeClock = testenv.Clock

func newFakeClock() *fakeClock { return testenv.NewClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)) }

func newTestThrottle(clock *fakeClock) *Throttle {
	return NewThrottle(ThrottleConfig{AccountFree: 5, IPFree: 20, Base: time.Second, Max: 15 * time.Minute,
		Window: 15 * time.Minute, Now: clock.Now})
}

func mustAllow(t *testing.T, th *Throttle, account, ip string) {
	t.Helper()
	if wait, ok := th.Check(account, ip); !ok {
		t.Fatalf("%s from %s blocked for %v", account, ip, wait)
	}
}

func mustBlock(t *testing.T, th *Throttle, account, ip string, want time.Duration) {
	t.Helper()
	if wait, ok := th.Check(account, ip); ok || wait != want {
		t.Fatalf("%s from %s: allowed=%v wait=%v, want blocked for %v", account, ip, ok, wait, want)
	}
}

func TestThrottleBackOff(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock)
	t.Run("lets the free failures through", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			mustAllow(t, th, "alice", "10.0.0.1")
			th.Failure("alice", "10.0.0.1")
		}
		mustAllow(t, th, "alice", "10.0.0.1")
	})
	t.Run("locks the account for Base after the last free failure", func(t *testing.T) {
		th.Failure("alice", "10.0.0.1")
		mustBlock(t, th, "alice", "10.0.0.1", time.Second)
		mustBlock(t, th, "ALICE ", "10.0.0.2", time.Second)
	})
	t.Run("leaves other accounts alone", func(t *testing.T) {
		mustAllow(t, th, "bob", "10.0.0.1")
	})
	t.Run("doubles the lock with every further failure", func(t *testing.T) {
		for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
			clock.Advance(want / 2)
			mustAllow(t, th, "alice", "10.0.0.1")
			th.Failure("alice", "10.0.0.1")
			mustBlock(t, th, "alice", "10.0.0.1", want)
		}
	})
	t.Run("caps the lock at Max", func(t *testing.T) {
		for i := 0; i < 40; i++ {
			th.Failure("alice", "10.0.0.9")
		}
		mustBlock(t, th, "alice", "", 15*time.Minute)
	})
	t.Run("keeps counting for a window after the lock ends", func(t *testing.T) {
		// Before, a lock of Max (= Window) ended together with the entry, and the next burst
		// started free: ~15 guesses every 32 minutes.
		clock.Advance(15 * time.Minute)
		mustAllow(t, th, "alice", "10.0.0.1")
		th.Failure("alice", "10.0.0.1")
		mustBlock(t, th, "alice", "10.0.0.1", 15*time.Minute)
	})
	t.Run("forgets failures a window after the lock ends", func(t *testing.T) {
		clock.Advance(30 * time.Minute)
		mustAllow(t, th, "alice", "10.0.0.1")
		th.Failure("alice", "10.0.0.1")
		mustAllow(t, th, "alice", "10.0.0.1")
	})
}

func TestThrottleSuccess(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock)
	for i := 0; i < 19; i++ {
		th.Failure("carol", "10.0.0.5")
	}
	t.Run("clears the account", func(t *testing.T) {
		th.Success(" Carol")
		mustAllow(t, th, "carol", "")
	})
	t.Run("keeps counting the IP", func(t *testing.T) {
		th.Failure("dave", "10.0.0.5")
		mustBlock(t, th, "erin", "10.0.0.5", time.Second)
	})
}

func TestThrottleIsBounded(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{MaxEntries: 100, Now: clock.Now})
	for i := 0; i < 1000; i++ {
		th.Failure(fmt.Sprintf("user%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := th.Len(); n > 100 {
		t.Fatalf("tracks %d keys, want at most 100", n)
	}
	t.Run("keeps the most recently failed keys", func(t *testing.T) {
		for i := 0; i < 4; i++ { // the fifth failure of user999
			th.Failure("user999", "")
		}
		mustBlock(t, th, "user999", "", time.Second)
	})
	t.Run("evicts the least recently failed keys", func(t *testing.T) {
		for i := 0; i < 4; i++ { // would be the fifth failure of user0, had it been kept
			th.Failure("user0", "")
		}
		mustAllow(t, th, "user0", "")
	})
}

func TestThrottleConcurrentUse(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{AccountFree: 1000, IPFree: 1000, MaxEntries: 50, Now: clock.Now})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				account := fmt.Sprintf("user%d", (g+i)%80)
				th.Check(account, "10.1.1.1")
				th.Failure(account, "10.1.1.1")
				if i%7 == 0 {
					th.Success(account)
				}
				if i%50 == 0 {
					clock.Advance(time.Second)
				}
			}
		}(g)
	}
	wg.Wait()
	if n := th.Len(); n > 50 {
		t.Fatalf("tracks %d keys, want at most 50", n)
	}
	// 3200 failures from one IP are far past its free budget of 1000.
	if _, ok := th.Check("someone-new", "10.1.1.1"); ok {
		t.Fatal("the IP is not throttled after 3200 failures")
	}
}

// A user's password change has a budget no login name can spend: "password-change:<id>" sent
// as a login once shared its key, so anyone could lock a user's password change.
func TestThrottleUserActionsAreApartFromLogins(t *testing.T) {
	th := newTestThrottle(newFakeClock())
	for range 10 {
		th.Failure("password-change:u1", "10.0.0.1")
		th.Failure("u:password-change:u1", "10.0.0.2")
	}
	a, wait, ok := th.BeginUser("password-change", "u1")
	if !ok {
		t.Fatalf("failed logins locked u1's password change for %v", wait)
	}
	a.Fail()
	for range 5 {
		a, _, ok := th.BeginUser("password-change", "u1")
		if !ok {
			break
		}
		a.Fail()
	}
	if _, _, ok := th.BeginUser("password-change", "u1"); ok {
		t.Fatal("six failed password changes did not lock the next one")
	}
	mustAllow(t, th, "u1", "10.0.0.3")
}

// Concurrent guesses at one account are counted before their passwords are checked: once the
// free failures are spent (counting the guesses under way), one runs at a time. Before, a burst
// all passed the check before the first failed.
func TestThrottleCountsAttemptsUnderWay(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock)
	var begun []*Attempt
	for range 100 {
		a, _, ok := th.Begin("alice", "10.0.0.1")
		if !ok {
			break
		}
		begun = append(begun, a)
	}
	if len(begun) != 5 {
		t.Fatalf("%d concurrent attempts began, want the 5 free ones", len(begun))
	}
	_, wait, ok := th.Begin("ALICE", "10.0.0.2")
	if ok || wait != time.Second {
		t.Fatalf("a sixth attempt under way: allowed=%v wait=%v, want refused for 1s", ok, wait)
	}
	if b, _, ok := th.Begin("bob", "10.0.0.1"); !ok {
		t.Fatal("alice's attempts under way refused bob")
	} else {
		b.End()
	}
	t.Run("an attempt ended without a check gives its place back", func(t *testing.T) {
		begun[0].End()
		a, _, ok := th.Begin("alice", "10.0.0.1")
		if !ok {
			t.Fatal("the place was not given back")
		}
		a.End()
		a.End()
		a.Fail() // after End: counts nothing
		begun[0].Fail()
		c, _, ok := th.Begin("alice", "10.0.0.1")
		if !ok {
			t.Fatal("the place was not given back")
		}
		if _, _, ok := th.Begin("alice", "10.0.0.1"); ok {
			t.Fatal("a place was given back twice")
		}
		c.End()
	})
	t.Run("failures lock the account", func(t *testing.T) {
		for _, a := range begun[1:] {
			a.Fail()
			a.End() // deferred in Login: a no-op now
		}
		// 4 failures: the account has one free attempt left, one at a time.
		a, _, ok := th.Begin("alice", "10.0.0.1")
		if !ok {
			t.Fatal("the fifth free attempt was refused")
		}
		if _, _, ok := th.Begin("alice", "10.0.0.1"); ok {
			t.Fatal("two attempts under way on the last free failure")
		}
		a.Fail()
		mustBlock(t, th, "alice", "10.0.0.1", time.Second)
		clock.Advance(time.Second)
		a, _, ok = th.Begin("alice", "10.0.0.1")
		if !ok {
			t.Fatal("refused after the lock ran out")
		}
		if _, _, ok := th.Begin("alice", "10.0.0.1"); ok {
			t.Fatal("two attempts under way past the free failures")
		}
		a.Succeed()
	})
	t.Run("a success clears the account", func(t *testing.T) {
		if th.Len() != 1 { // the IP's failures only
			t.Fatalf("tracks %d keys, want only the IP", th.Len())
		}
		mustAllow(t, th, "alice", "10.0.0.1")
	})
	t.Run("an attempt under way outlives the window", func(t *testing.T) {
		a, _, _ := th.Begin("carol", "")
		clock.Advance(time.Hour)
		th.Failure("someone", "") // evicts expired entries
		for range 4 {
			b, _, ok := th.Begin("carol", "")
			if !ok {
				t.Fatal("refused within the free failures")
			}
			b.Fail()
		}
		if _, _, ok := th.Begin("carol", ""); ok {
			t.Fatal("carol's attempt under way was forgotten")
		}
		a.End()
	})
}

// Under -race: concurrent attempts, ended every way, leave no places taken.
func TestThrottleAttemptsConcurrently(t *testing.T) {
	th := newTestThrottle(newFakeClock())
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, _, ok := th.Begin("dave", "10.0.0.1")
			if !ok {
				return
			}
			defer a.End()
			mu.Lock()
			allowed++
			mu.Unlock()
			if g%3 == 0 {
				a.Fail()
			}
		}()
	}
	wg.Wait()
	if allowed == 0 {
		t.Fatal("no attempt began")
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	if el, ok := th.entries[accountKey("dave")]; ok && el.Value.(*throttleEntry).pending != 0 {
		t.Fatalf("%d places still taken", el.Value.(*throttleEntry).pending)
	}
}
